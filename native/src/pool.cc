// pool.cc — a persistent fork-join pool: workers watch a generation counter, the caller runs chunk 0
// and then waits for the others. Static partitioning keeps results bitwise reproducible.
// Workers spin briefly after each job before sleeping on a condition variable, so back-to-back kernel
// calls (a training step issues thousands) wake them in well under a microsecond instead of ~10-50 µs.
#include "pool.h"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace zj {
namespace {

// True on pool workers and on a caller inside parallel_for: a nested parallel_for runs serially.
thread_local bool in_task = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// How long an idle worker keeps spinning before it sleeps. Long enough to bridge the gap between the
// kernels of one op sequence, short enough not to steal much from other processes on a busy machine.
constexpr auto kSpinTime = std::chrono::microseconds(100);

struct Pool {
  std::vector<std::thread> workers;
  std::mutex mu;                      // guards sleeping workers' wake-up (generation changes under it)
  std::condition_variable wake;
  std::mutex call_mu;                 // one parallel_for at a time (several JS threads may call in)
  std::atomic<int> pending{0};
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> stopping{false};
  int sleepers = 0;                   // workers blocked on `wake` (guarded by mu)
  const std::function<void(int64_t, int64_t, int)>* job = nullptr;
  int64_t n = 0, chunk = 0;
  int nthreads = 1;

  void run_chunk(int t) {
    int64_t b = t * chunk, e = std::min(n, b + chunk);
    if (b < e) (*job)(b, e, t);
  }

  // Waits until the generation moves past `seen` (returns it) or the pool stops (returns seen).
  uint64_t wait_for_job(uint64_t seen) {
    auto until = std::chrono::steady_clock::now() + kSpinTime;
    for (int i = 0;; i++) {
      uint64_t g = generation.load(std::memory_order_acquire);
      if (g != seen || stopping.load(std::memory_order_acquire)) return g;
      cpu_relax();
      if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) break;
    }
    std::unique_lock<std::mutex> lk(mu);
    sleepers++;
    wake.wait(lk, [&] { return stopping.load() || generation.load() != seen; });
    sleepers--;
    return generation.load(std::memory_order_acquire);
  }

  void worker(int t) {
    in_task = true;
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = wait_for_job(seen);
      if (stopping.load(std::memory_order_acquire)) return;
      seen = g;
      run_chunk(t);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  void start(int n_threads) {
    nthreads = std::max(1, n_threads);
    for (int t = 1; t < nthreads; t++) workers.emplace_back([this, t] { worker(t); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stopping.store(true);
    }
    wake.notify_all();
    for (auto& w : workers) w.join();
    workers.clear();
    stopping.store(false);
  }

  ~Pool() { stop(); }
};

int default_threads() {
  const char* env = std::getenv("ZJ_THREADS");
  if (env && *env) {
    int n = std::atoi(env);
    if (n >= 1) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? (int)hw : 1;
}

Pool& pool() {
  static Pool* p = [] {
    Pool* q = new Pool();  // never destroyed: workers must outlive static destructors of callers
    q->start(default_threads());
    return q;
  }();
  return *p;
}

}  // namespace

int pool_threads() { return pool().nthreads; }

void pool_set_threads(int n) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lk(p.call_mu);
  p.stop();
  p.start(n);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  Pool& p = pool();
  grain = std::max<int64_t>(1, grain);
  int64_t max_chunks = (n + grain - 1) / grain;
  int used = (int)std::min<int64_t>(p.nthreads, max_chunks);
  if (used <= 1 || in_task) {
    fn(0, n, 0);
    return;
  }
  std::lock_guard<std::mutex> call(p.call_mu);
  in_task = true;
  bool any_sleeping;
  {
    // The job is published under mu so a worker deciding to sleep either sees the new generation or
    // is already counted in `sleepers` and gets notified.
    std::lock_guard<std::mutex> lk(p.mu);
    p.job = &fn;
    p.n = n;
    // Chunks are computed for all pool threads; threads beyond `used` get empty ranges.
    p.chunk = (n + used - 1) / used;
    p.pending.store(p.nthreads - 1, std::memory_order_release);
    p.generation.fetch_add(1, std::memory_order_release);
    any_sleeping = p.sleepers > 0;
  }
  if (any_sleeping) p.wake.notify_all();
  // fn must not be left to workers that still run it: wait for them even if chunk 0 throws.
  std::exception_ptr error;
  try {
    p.run_chunk(0);
  } catch (...) {
    error = std::current_exception();
  }
  // Workers finish quickly for kernel-sized jobs: spin briefly before yielding.
  for (int spins = 0; p.pending.load(std::memory_order_acquire) != 0; spins++) {
    if (spins > 2000) std::this_thread::yield();
    else cpu_relax();
  }
  in_task = false;
  if (error) std::rethrow_exception(error);
}

}  // namespace zj
