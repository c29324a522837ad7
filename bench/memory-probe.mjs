/**
 * Loaded into a `serve` process by bench/memory.ts (`NODE_OPTIONS=--import …/memory-probe.mjs`):
 * appends `process.memoryUsage()` (RSS, V8 heap used and total, external, array buffers) to
 * FPT_PROBE_FILE every 100 ms as one JSON line, so that the bench can say what the resident set
 * was made of at its peak. With FPT_PROBE_SNAPSHOT_HEAP_MB set, it also writes one heap snapshot
 * (into the working directory) the first time the V8 heap in use passes that many MB.
 *
 * With FPT_PROBE_ALLOC_PROFILE set (a file name), it runs V8's sampling heap profiler, counting
 * objects a major GC collected too (the garbage that lived long enough to be promoted, which is
 * what the old generation grows with), from when the file `<FPT_PROBE_FILE>.start` appears until
 * `<FPT_PROBE_FILE>.stop` does, and writes the profile (DevTools' .heapprofile format) there.
 *
 * FPT_PROBE_V8_FLAGS sets V8 flags at run time (space-separated), for A/B runs of those NODE_OPTIONS
 * refuses (such as --heap-growing-percent).
 *
 * Bench-only: nothing in the service reads these variables.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import process from 'node:process';
import { setInterval } from 'node:timers';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';

// V8 flags set at run time (those NODE_OPTIONS refuses), for A/B runs: FPT_PROBE_V8_FLAGS="--a --b"
for (const flag of (process.env.FPT_PROBE_V8_FLAGS ?? '').split(' ').filter(Boolean))
  setFlagsFromString(flag);

const file = process.env.FPT_PROBE_FILE;
const snapshotAt = Number(process.env.FPT_PROBE_SNAPSHOT_HEAP_MB ?? 0) * 1024 * 1024;
let snapshotTaken = false;
const dir = process.env.FPT_PROBE_SNAPSHOT_DIR ?? '.';

const allocProfile = process.env.FPT_PROBE_ALLOC_PROFILE;
/** 'waiting' for the start file, 'sampling', or 'done' */
let profiling = allocProfile ? 'waiting' : 'done';
let session;

function stepProfile() {
  if (profiling === 'waiting' && existsSync(`${file}.start`)) {
    session = new Session();
    session.connect();
    session.post('HeapProfiler.startSampling', {
      samplingInterval: 16384,
      includeObjectsCollectedByMajorGC: true,
    });
    profiling = 'sampling';
  } else if (profiling === 'sampling' && existsSync(`${file}.stop`)) {
    profiling = 'done';
    session.post('HeapProfiler.stopSampling', (err, res) => {
      writeFileSync(allocProfile, JSON.stringify(err ? { error: String(err) } : res.profile));
      session.disconnect();
    });
  }
}

/** collections so far: scavenges (minor), mark-compacts (major), and the time spent in all */
const gc = { minor: 0, major: 0, ms: 0 };

if (file) {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.ms += e.duration;
      const kind = e.detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.minor++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
    }
  }).observe({ entryTypes: ['gc'] });
  const t0 = Date.now();
  setInterval(() => {
    stepProfile();
    const m = process.memoryUsage();
    appendFileSync(
      file,
      `${JSON.stringify({ t: Date.now() - t0, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, minor: gc.minor, major: gc.major, gcMs: Math.round(gc.ms) })}\n`,
    );
    if (snapshotAt > 0 && !snapshotTaken && m.heapUsed > snapshotAt) {
      snapshotTaken = true;
      writeHeapSnapshot(`${dir}/peak-${process.pid}.heapsnapshot`);
    }
  }, 100).unref();
}
