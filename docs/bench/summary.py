#!/usr/bin/env python3
"""summary.py [OUT]: the median (min-max) of each figure over the runs NAME-1..3
that all.sh (or state.sh) left in OUT, one line per scenario (and per rate of a
fan-out sweep), with the hub's and the generator's CPU (run.py's .meta.json)."""
import glob, json, os, re, statistics, sys

out = sys.argv[1] if len(sys.argv) > 1 else os.environ.get('OUT', '/tmp/herald-all')

def fmt(vals, nd):
    vals = [v for v in vals if v is not None]
    if not vals:
        return '-'
    f = lambda v: f'{v:,.{nd}f}'
    med = statistics.median(vals)
    return f'{f(med)} ({f(min(vals))}-{f(max(vals))})' if len(vals) > 1 else f(med)

def get(d, path):
    for k in path.split('.'):
        if d is None:
            return None
        d = d[int(k)] if isinstance(d, list) else d.get(k)
    return d

runs = {}
for p in sorted(glob.glob(os.path.join(out, '*.json'))):
    m = re.match(r'(.*)-(\d+)\.json$', os.path.basename(p))
    if not m or p.endswith('.meta.json'):
        continue
    meta_p = p[:-5] + '.meta.json'
    try:
        rep = json.load(open(p))
    except ValueError:
        print(f'{p}: not a report', file=sys.stderr)
        continue
    meta = json.load(open(meta_p)) if os.path.exists(meta_p) else {}
    runs.setdefault(m.group(1), []).append((rep, meta))

def line(name, rows, figures):
    cols = [f'{label} {fmt([get(r, path) * scale for r, _ in rows if get(r, path) is not None], nd)}'
            for label, path, scale, nd in figures]
    cols.append('hub CPU ' + fmt([m.get('hub_cpu') for _, m in rows], 2) + ' s')
    cols.append('generator ' + fmt([m.get('bench_cpu') for _, m in rows], 2) + ' s')
    cols.append('others ' + fmt([m.get('others_cpu') for _, m in rows], 2) + ' s')
    print(f'{name} [{len(rows)} runs]: ' + '; '.join(cols))

for name, rows in sorted(runs.items()):
    rep = rows[0][0]
    if rep.get('idle'):
        line(name, rows, [('connected', 'idle.connected', 1, 0), ('connect/s', 'idle.connect_rate', 1, 0),
                          ('B/subscriber', 'idle.bytes_per_conn', 1, 0),
                          ('hub CPU connecting s', 'idle.server_connect.cpu_seconds', 1, 2),
                          ('dropped', 'idle.dropped', 1, 0)])
        cpu = [get(r, 'idle.server_connect.cpu_seconds') / get(r, 'idle.connected') * 1e6 for r, _ in rows
               if get(r, 'idle.server_connect.cpu_seconds') and get(r, 'idle.connected')]
        print(f'    hub CPU per connect {fmt(cpu, 1)} us')
    elif rep.get('fanout'):
        for i, step in enumerate(rep['fanout']['steps']):
            p = f'fanout.steps.{i}.'
            line(f'{name} @{step["target_rate"]:g}/s', rows, [
                ('published/s', p + 'publish_rate', 1, 1), ('deliveries/s', p + 'deliveries_per_sec', 1, 0),
                ('p50 ms', p + 'latency.p50_ms', 1, 1), ('p99 ms', p + 'latency.p99_ms', 1, 1),
                ('max ms', p + 'latency.max_ms', 1, 1), ('lost', p + 'lost', 1, 0), ('dup', p + 'duplicates', 1, 0),
                ('hub CPU (step) s', p + 'server.cpu_seconds', 1, 2)])
    elif rep.get('publish'):
        line(name, rows, [('publishes/s', 'publish.publishes_per_sec', 1, 0),
                          ('p50 ms', 'publish.latency.p50_ms', 1, 2), ('p99 ms', 'publish.latency.p99_ms', 1, 2),
                          ('errors', 'publish.errors', 1, 0)])
        per = [m['hub_cpu'] / get(r, 'publish.published') * 1e6 for r, m in rows if m.get('hub_cpu') and get(r, 'publish.published')]
        gen = [m['bench_cpu'] / get(r, 'publish.published') * 1e6 for r, m in rows if m.get('bench_cpu') and get(r, 'publish.published')]
        print(f'    hub CPU per publish {fmt(per, 1)} us (whole run); generator {fmt(gen, 1)} us')
    elif rep.get('resume'):
        line(name, rows, [('replay ms', 'resume.last_event_ms', 1, 0), ('first ms', 'resume.first_event_ms', 1, 1),
                          ('received', 'resume.received', 1, 0), ('missing', 'resume.missing', 1, 0),
                          ('dup', 'resume.duplicates', 1, 0), ('publish/s', 'resume.publish_rate', 1, 0)])
    elif rep.get('db_write'):
        line(name, rows, [('writes/s', 'db_write.writes_per_sec', 1, 0), ('p50 ms', 'db_write.latency.p50_ms', 1, 2),
                          ('p99 ms', 'db_write.latency.p99_ms', 1, 2), ('errors', 'db_write.errors', 1, 0)])
    elif rep.get('db_snapshot'):
        line(name, rows, [('GET complete p50 ms', 'db_snapshot.get.complete.p50_ms', 1, 1),
                          ('first put complete p50 ms', 'db_snapshot.stream.complete.p50_ms', 1, 1),
                          ('16 GETs at once, last ms', 'db_snapshot.concurrent_get.complete.max_ms', 1, 1),
                          ('16 streams at once, last ms', 'db_snapshot.concurrent_stream.complete.max_ms', 1, 1),
                          ('mismatched', 'db_snapshot.get.mismatched', 1, 0),
                          ('hub RSS before MB', 'db_snapshot.memory.rss_before_bytes', 1e-6, 1)])
        grow = [(get(r, 'db_snapshot.memory.peak_concurrent_bytes') - get(r, 'db_snapshot.memory.rss_before_bytes')) / 1e6
                for r, _ in rows if get(r, 'db_snapshot.memory.peak_concurrent_bytes')]
        print(f'    hub RSS peak growth {fmt(grow, 2)} MB')
    else:
        print(f'{name} [{len(rows)} runs]: see the reports ({", ".join(k for k in rep if isinstance(rep[k], dict))})')
