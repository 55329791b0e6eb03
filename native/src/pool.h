// pool.h — the process's one thread pool. Sized from ZJ_THREADS or the number of cores.
// parallel_for splits [0, n) into contiguous static chunks, one per thread, so results are
// deterministic for a given thread count. A call made from inside a pool task runs serially:
// pools never nest.
#pragma once
#include <cstdint>
#include <functional>

namespace zj {

int pool_threads();                 // threads used by parallel_for (>= 1)
void pool_set_threads(int n);       // resize (not while a parallel_for is running)

// fn(begin, end, thread) over a static partition of [0, n) into at most pool_threads() chunks,
// each at least `grain` long. The calling thread runs chunk 0.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

}  // namespace zj
