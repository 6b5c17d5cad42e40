/**
 * `npm run bench:rate-limit-memory` (not a test): the memory the per-IP rate limiter holds against the number
 * of distinct client addresses that hit an `ip` policy within one window, as a client that picks its own
 * forwarded address (or an IPv6 host picking addresses in its networks) can make it.
 *
 * Each row drives a fresh MemoryRateLimitStorage the way the guard does (the `admin` policy's key and its
 * default 300/60 s, one hit per address, every hit within the window so nothing can be swept), then reports
 * the heap it holds after a full GC, the keys it tracks, how many of the requests were let through, and the
 * cost of a check. "unbounded" is the storage without a cap on keys, as it was before RATE_LIMIT_MAX_KEYS.
 *
 * Knobs: BENCH_ADDRESSES (comma list of address counts, default 100000,600000,1000000).
 */
import { Logger } from '@nestjs/common';
import { DEFAULT_MAX_KEYS, MemoryRateLimitStorage } from 'src/rate-limit/memory-rate-limit-storage';
import { ipTracker } from 'src/rate-limit/rate-limit.guard';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run bench:rate-limit-memory does)');

// The storage warns once its table is full: expected here, and not what is measured.
Logger.overrideLogger(false);

const WINDOW_MS = 60_000;
const LIMIT = 300;
/** The hits are spread over 50 s: all of them are still in the 60 s window at the end. */
const SPREAD_MS = 50_000;
const COUNTS = (process.env.BENCH_ADDRESSES ?? '100000,600000,1000000').split(',').map(Number);

/** How the i-th client address is made, and the IPv6 prefix (RATE_LIMIT_IPV6_PREFIX) it is counted by. */
const FAMILIES: { name: string; prefix: number; address: (i: number) => string }[] = [
  { name: 'IPv4', prefix: 64, address: (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
  {
    name: 'IPv6, each in a /64 of its own',
    prefix: 64,
    address: (i) => `2001:db8:${((i >> 16) & 0xffff).toString(16)}:${(i & 0xffff).toString(16)}::1`,
  },
  { name: 'IPv6 in one /48, per /64', prefix: 64, address: inOne48 },
  { name: 'IPv6 in one /48, per /48', prefix: 48, address: inOne48 },
];

function inOne48(i: number): string {
  return `2001:db8:7:${(i & 0xffff).toString(16)}:${((i >> 16) & 0xffff).toString(16)}::1`;
}

function heapMb(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed / 1_048_576;
}

interface Row {
  addresses: string;
  n: number;
  cap: string;
  heapMb: number;
  keys: number;
  allowed: number;
  nsPerCheck: number;
}

function run(family: (typeof FAMILIES)[number], n: number, maxKeys: number): Row {
  const { address, prefix } = family;
  const before = heapMb();
  const storage = new MemoryRateLimitStorage(maxKeys);
  const start = Date.now();
  let allowed = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const key = `keysmith:rl:admin:${ipTracker(address(i), prefix)}`;
    const now = start + Math.floor((i * SPREAD_MS) / n);
    if (!storage.count(key, WINDOW_MS, LIMIT, now, 'admin').isBlocked) allowed++;
  }
  const ns = Number(process.hrtime.bigint() - t0) / n;
  const after = heapMb();
  const row: Row = {
    addresses: family.name,
    n,
    cap: Number.isFinite(maxKeys) ? maxKeys.toLocaleString('en') : 'unbounded',
    heapMb: after - before,
    keys: storage.size,
    allowed,
    nsPerCheck: ns,
  };
  storage.onApplicationShutdown();
  return row;
}

const rows: Row[] = [];
for (const family of FAMILIES) {
  for (const n of COUNTS) {
    for (const cap of [Infinity, DEFAULT_MAX_KEYS]) rows.push(run(family, n, cap));
  }
}

console.log(`node ${process.version}; admin policy ${LIMIT}/${WINDOW_MS / 1000} s, one hit per address\n`);
console.log(
  '| addresses | distinct | cap on keys | heap held (MB) | keys tracked | requests let through | µs/request |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(
    `| ${r.addresses} | ${r.n.toLocaleString('en')} | ${r.cap} | ${r.heapMb.toFixed(1)} | ` +
      `${r.keys.toLocaleString('en')} | ${r.allowed.toLocaleString('en')} | ${(r.nsPerCheck / 1000).toFixed(1)} |`,
  );
}
