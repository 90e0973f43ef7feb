// A real OpenID provider for tests/api/oidc.rs: oidc-provider, set up as Pro Santé Connect is
// for a service (authorization code, PKCE required, a client secret, the `scope_all` scope
// whose claims carry the professional's national identifier in `SubjectNameID`, "8" + RPPS).
// Its development login form accepts any login: an 11-digit login is a professional with that
// RPPS; any other login is a staff identity, with no SubjectNameID.
//
// Environment: CLIENT_ID, CLIENT_SECRET, REDIRECT_URI (our callback), PORT (0: any free one).
// Prints `issuer <url>` on stdout once it listens; stops on SIGTERM.
import Provider from 'oidc-provider';
import http from 'node:http';

const { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env;
const port = Number(process.env.PORT || 0);

const server = http.createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    scopes: ['openid', 'scope_all'],
    claims: {
      openid: ['sub'],
      scope_all: ['SubjectNameID', 'given_name', 'family_name'],
    },
    // Claims come from the UserInfo endpoint, as Pro Santé Connect's do.
    conformIdTokenClaims: true,
    async findAccount(ctx, id) {
      const professional = /^[0-9]{11}$/.test(id);
      return {
        accountId: id,
        async claims() {
          return professional
            ? { sub: id, SubjectNameID: `8${id}`, given_name: 'Test', family_name: `PS ${id}` }
            : { sub: id, given_name: 'Staff', family_name: id };
        },
      };
    },
    cookies: { keys: ['cpts-test-oidc'] },
    ttl: { Session: 600, Interaction: 600, Grant: 600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
  });
  server.on('request', provider.callback());
  console.log(`issuer ${issuer}`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
