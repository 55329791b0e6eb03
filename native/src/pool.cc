// pool.cc — a persistent fork-join pool: workers wait on a generation counter, the caller runs
// chunk 0 and then waits for the others. Static partitioning keeps results bitwise reproducible.
#include "pool.h"
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace zj {
namespace {

// True on pool workers and on a caller inside parallel_for: a nested parallel_for runs serially.
thread_local bool in_task = false;

struct Pool {
  std::vector<std::thread> workers;
  std::mutex mu;                      // guards job fields and generation
  std::condition_variable wake;
  std::mutex call_mu;                 // one parallel_for at a time (several JS threads may call in)
  std::atomic<int> pending{0};
  uint64_t generation = 0;
  bool stopping = false;
  const std::function<void(int64_t, int64_t, int)>* job = nullptr;
  int64_t n = 0, chunk = 0;
  int nthreads = 1;

  void run_chunk(int t) {
    int64_t b = t * chunk, e = std::min(n, b + chunk);
    if (b < e) (*job)(b, e, t);
  }

  void worker(int t) {
    in_task = true;
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu);
        wake.wait(lk, [&] { return stopping || generation != seen; });
        if (stopping) return;
        seen = generation;
      }
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
      stopping = true;
    }
    wake.notify_all();
    for (auto& w : workers) w.join();
    workers.clear();
    stopping = false;
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
  {
    std::lock_guard<std::mutex> lk(p.mu);
    p.job = &fn;
    p.n = n;
    // Chunks are computed for all pool threads; threads beyond `used` get empty ranges.
    p.chunk = (n + used - 1) / used;
    p.pending.store(p.nthreads - 1, std::memory_order_release);
    p.generation++;
  }
  p.wake.notify_all();
  p.run_chunk(0);
  // Workers finish quickly for kernel-sized jobs: spin briefly before yielding.
  for (int spins = 0; p.pending.load(std::memory_order_acquire) != 0; spins++) {
    if (spins > 2000) std::this_thread::yield();
  }
  in_task = false;
}

}  // namespace zj
