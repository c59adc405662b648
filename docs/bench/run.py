#!/usr/bin/env python3
"""run.py NAME [serve flags] -- [bench args]: one measured run of `herald bench`
against a fresh hub (serve.sh; $PORT, default 18090). Writes $OUT/NAME.json (the
bench's report) and $OUT/NAME.meta.json: the hub's CPU (/proc/PID/stat), the
generator's (its report), every other process's (the box's busy time minus those
two), the load average before. The bench gets --key with the hub's JWT secret
unless its arguments give --token."""
import json, os, subprocess, sys, time
here = os.path.dirname(os.path.abspath(__file__))
out = os.environ.setdefault('OUT', '/tmp/herald-measure')
os.makedirs(out, exist_ok=True)
name = sys.argv[1]
i = sys.argv.index('--')
serve_flags, bench_args = sys.argv[2:i], sys.argv[i + 1:]
herald = os.environ.get('HERALD_BIN', 'bin/herald')
HZ = os.sysconf('SC_CLK_TCK')

def busy():
    v = list(map(int, open('/proc/stat').readline().split()[1:]))
    return (sum(v) - v[3] - v[4]) / HZ  # all but idle and iowait

def proc_cpu(pid):
    try:
        f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
        return (int(f[11]) + int(f[12])) / HZ
    except OSError:
        return 0.0

load = open('/proc/loadavg').read().split()[0]
subprocess.run([os.path.join(here, 'serve.sh'), name] + serve_flags, check=True)
pid = int(open(os.path.join(out, 'pid')).read())
b0, h0, t0 = busy(), proc_cpu(pid), time.time()
port = os.environ.get('PORT', '18090')
auth = [] if '--token' in bench_args else ['--key', 'benchsecret-benchsecret-benchsecret']
cmd = ['timeout', '900', herald, 'bench'] + bench_args + [
    '--hub', f'http://127.0.0.1:{port}/.well-known/mercure'] + auth + ['--pid', str(pid), '--json', '--quiet']
r = subprocess.run(['bash', '-c', 'ulimit -n 20000; exec "$@"', 'bench'] + cmd,
                   stdout=open(os.path.join(out, name + '.json'), 'w'), stderr=open(os.path.join(out, name + '.err'), 'w'))
b1, h1, t1 = busy(), proc_cpu(pid), time.time()
subprocess.run(['kill', str(pid)])
time.sleep(1)
bench_cpu = json.load(open(os.path.join(out, name + '.json'))).get('bench_cpu_seconds', 0)
meta = dict(name=name, rc=r.returncode, start=time.strftime('%H:%M:%S', time.gmtime(t0)), wall=round(t1 - t0, 1),
            hub_cpu=round(h1 - h0, 2), bench_cpu=round(bench_cpu, 2),
            others_cpu=round((b1 - b0) - (h1 - h0) - bench_cpu, 2), load_before=load)
json.dump(meta, open(os.path.join(out, name + '.meta.json'), 'w'))
print(json.dumps(meta))
