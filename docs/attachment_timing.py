#!/usr/bin/env python3
"""Times the attachment workflow of issue 17 through the HTTP API, as the closing note quotes it.

`cargo build --release && python3 docs/attachment_timing.py` from the repository root: starts
`cpts serve` on a fresh SQLite file in a temporary folder (port 18090), imports fixtures/nancy,
runs a batch over the Métropole du Grand Nancy, commits it, has the GPs accept a third and refuse
a third of their proposals (each with his own token), runs a second batch, and prints both
batches' timings and the medians of a few reads. CPTS_BIN names another binary.
"""
import json, subprocess, tempfile, time, urllib.request, os, sys
B = os.environ.get("CPTS_BIN", "target/release/cpts"); U = "http://127.0.0.1:18090"
tmp = tempfile.mkdtemp()
env = dict(os.environ, DATABASE_URL="sqlite://%s/cpts.db?mode=rwc" % tmp, CPTS_BIND="127.0.0.1:18090")
srv=subprocess.Popen([B,"serve"],env=env,stdout=open(os.path.join(tmp,"serve.log"),"w"),stderr=subprocess.STDOUT)
time.sleep(2)
def tok(*a): return subprocess.run([B,"token","create",*a],env=env,capture_output=True,text=True).stdout.strip().splitlines()[-1]
cpam=tok("--role","cpam","--territory","dep:54","--label","cpam")
def req(m,p,t,body=None,ct="application/json"):
    r=urllib.request.Request(U+p,method=m,data=body,headers={"Authorization":"Bearer "+t,"content-type":ct})
    try:
        with urllib.request.urlopen(r) as f: return f.status, f.read()
    except urllib.error.HTTPError as e: return e.code, e.read()
F="fixtures/nancy/"
for k in ["patients","doctors"]:
    print(req("POST","/imports/"+k,cpam,open(F+k+".csv","rb").read(),"text/csv")[0])
def batch():
    s,b=req("POST","/batches",cpam,json.dumps({"territory":{"epci":"245400676"}}).encode())
    jid=json.loads(b)["id"]
    while True:
        s,b=req("GET","/jobs/"+jid,cpam); j=json.loads(b)
        if j["status"] in ("succeeded","failed"): return j
        time.sleep(0.2)
j1=batch(); print("batch1", j1["result"]["patients"], j1["result"]["objective"], j1["result"]["timings_ms"], j1["started_at"], j1["finished_at"])
print(req("POST","/batches/%s/commit"%j1["id"],cpam)[1])
props=[]; off=0
while True:
    s,b=req("GET","/proposals?limit=1000&offset=%d"%off,cpam); d=json.loads(b); props+=d["items"]
    if not d["next"]: break
    off+=1000
gps={}
t0=time.time(); n=0
for i,p in enumerate(props):
    if i%3==2: continue
    r=p["rpps"]
    if r not in gps: gps[r]=tok("--role","medecin","--rpps",r,"--label","gp")
    if i%3==0: s,_=req("POST","/proposals/%s/accept"%p["id"],gps[r])
    else: s,_=req("POST","/proposals/%s/refuse"%p["id"],gps[r],json.dumps({"reason":"capacity"}).encode())
    assert s==200, s; n+=1
dt=time.time()-t0
print("answers", n, "in %.1f s, %.1f ms each"%(dt, 1000*dt/n))
j2=batch(); print("batch2", j2["result"]["patients"], j2["result"]["objective"], j2["result"]["timings_ms"])
s,b=req("GET","/batches/%s/instance"%j2["id"],cpam); open(os.path.join(tmp,"instance.zip"),"wb").write(b); print("instance:", os.path.join(tmp,"instance.zip"))
import statistics
def timeit(p, accept="application/json", n=7):
    ts=[]
    for _ in range(n):
        t=time.time()
        r=urllib.request.Request(U+p,headers={"Authorization":"Bearer "+cpam,"accept":accept})
        with urllib.request.urlopen(r) as f: f.read()
        ts.append(1000*(time.time()-t))
    return statistics.median(ts)
for p,a in [("/patients?limit=100","application/json"),("/patients?status=unmatched&limit=100","application/json"),("/proposals?limit=100","application/json"),("/reports/attachment","application/json"),("/reports/attachment","application/geo+json"),("/batches/%s/instance"%j2["id"],"*/*")]:
    print("%-45s %-22s median %.1f ms"%(p[:45],a,timeit(p,a)))
srv.terminate(); srv.wait()
