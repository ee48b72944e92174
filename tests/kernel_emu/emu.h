// Host emulation of hand-written CUDA kernels, for checking their index math, tiling and
// guards on a machine without a GPU: a launch runs its blocks one after another, each block's
// threads as std::threads, __syncthreads a barrier among them, __shared__ variables static
// (one block at a time uses them). Nothing here models the GPU's memory system or timing; a
// race the barrier hides is compute-sanitizer's job on a GPU.
//
// A kernel file is included after this header with its launches rewritten from
//     kernel<<<grid, threads, shmem, stream>>>(args...)
// to  kernel * emu_config(grid, threads, shmem, stream) ^ emu_args(args...)
// (a plain text substitution of "<<<" and ">>>(", done by tests/CMakeLists.txt), and with its
// extern "C" launchers renamed (see the #defines in each emulation test) so that they do not
// clash with the real ones in a CUDA build of libaxon.
#ifndef AX_KERNEL_EMU_H
#define AX_KERNEL_EMU_H

#include <barrier>
#include <cmath>
#include <functional>
#include <thread>
#include <tuple>
#include <vector>

#include <cuda_runtime_api.h> // fake_cuda/

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __syncthreads() emu_barrier->arrive_and_wait()

// Correctly rounded single operations (the host's IEEE float arithmetic; the build keeps it
// from contracting them) and a real atomic compare-and-swap among the emulated threads.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline int atomicCAS(int *p, int compare, int value) {
    __atomic_compare_exchange_n(p, &compare, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return compare; // the old value
}

inline thread_local dim3 threadIdx, blockIdx;
inline dim3 gridDim, blockDim;
inline std::barrier<> *emu_barrier;

struct EmuConfig {
    dim3 grid;
    unsigned threads;
};

template <class F> struct EmuBound {
    F *kernel;
    EmuConfig cfg;
};

template <class G, class S> EmuConfig emu_config(G grid, int threads, int, S) {
    return EmuConfig{dim3(grid), (unsigned)threads};
}

template <class F> EmuBound<F> operator*(F *kernel, EmuConfig cfg) { return {kernel, cfg}; }

template <class... A> std::tuple<A...> emu_args(A... a) { return std::tuple<A...>(a...); }

// Runs every block of the launch; the threads of a block run together and meet at each
// __syncthreads and at the end of the block.
template <class F, class... A> void operator^(EmuBound<F> b, std::tuple<A...> args) {
    gridDim = b.cfg.grid;
    blockDim = dim3(b.cfg.threads);
    std::barrier<> bar((std::ptrdiff_t)b.cfg.threads);
    emu_barrier = &bar;
    std::vector<std::thread> team;
    for (unsigned t = 0; t < b.cfg.threads; t++)
        team.emplace_back([&, t] {
            threadIdx = dim3(t);
            for (unsigned z = 0; z < gridDim.z; z++)
                for (unsigned y = 0; y < gridDim.y; y++)
                    for (unsigned x = 0; x < gridDim.x; x++) {
                        blockIdx = dim3(x, y, z);
                        std::apply(b.kernel, args);
                        bar.arrive_and_wait();
                    }
        });
    for (auto &th : team)
        th.join();
}

#endif
