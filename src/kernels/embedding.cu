// Embedding: forward gather and a deterministic backward scatter-add, w [vocab, dim].
//
// Forward: one warp per row i (grid-stride over rows), lanes over the columns:
//     out[i, d] = w[idx[i], d]
// An index outside [0, vocab) gives a NaN row and is recorded in the context's device check
// (cuda_internal.h), which the next synchronizing call reports: no synchronization here.
//
// Backward: dw[v, d] (+)= sum over i with idx[i] == v of dout[i, d], each element one f32 sum
// in increasing i, so two runs (and the CPU reference) give the same bits. No atomics and no
// sort: the vocabulary is split into P partitions (v % P) and each warp owns one partition
// and 32 columns: it walks all n indices in order (staged through shared memory, a tile per
// block), and for those in its partition (a warp-uniform test) each lane adds its column of
// dout into dw. Every element of dw is written by one thread only. Cost: the n * dim reads of
// dout and read-modify-writes of dw that any scatter-add makes, plus a scan of the n indices
// by each of the P * ceil(dim / 32) warps (shared-memory reads, warp-uniform); P is chosen to
// fill the device (P <= vocab), so the scan is ~ n * (resident warps) warp-reads: small for a
// language model's batch (n = N T tokens of a few thousand), and it needs no scratch memory.
// A sort by index and a segmented sum would scan less for very large n, at the price of a
// sort's scratch and passes.
#include <math.h>
#include <stdint.h>

#include "../host/cuda/cuda_internal.h"
#include "kernels.h"

namespace {

constexpr int kThreads = 256;            // 8 warps
constexpr int kWarps = kThreads / 32;
constexpr int kTile = kThreads;          // indices staged per block step
constexpr int64_t kMaxPartitions = 65535LL * kWarps; // grid y <= 65535

// The first bad index of all kernels until reported wins the record.
__device__ __forceinline__ void record_bad(ax_cuda_check *chk, int what, int64_t pos,
                                           int64_t value, int64_t bound) {
    if (atomicCAS(&chk->claimed, 0, 1) == 0) {
        chk->what = what;
        chk->pos = (long long)pos;
        chk->value = (long long)value;
        chk->bound = (long long)bound;
    }
}

__global__ void __launch_bounds__(kThreads)
    embedding_forward_kernel(const int32_t *idx, int64_t n, const float *w, int64_t vocab,
                             int64_t dim, float *out, ax_cuda_check *chk) {
    const int lane = threadIdx.x & 31;
    const int64_t warps = (int64_t)gridDim.x * (kThreads / 32);
    for (int64_t i = ((int64_t)blockIdx.x * kThreads + threadIdx.x) / 32; i < n; i += warps) {
        const int32_t v = idx[i];
        float *o = out + i * dim;
        if (v < 0 || v >= vocab) {
            if (lane == 0)
                record_bad(chk, AX_CUDA_CHECK_EMBEDDING_FORWARD, i, v, vocab);
            for (int64_t d = lane; d < dim; d += 32)
                o[d] = NAN;
            continue;
        }
        const float *row = w + (int64_t)v * dim;
        for (int64_t d = lane; d < dim; d += 32)
            o[d] = row[d];
    }
}

// grid (ceil(dim / 32), ceil(parts / 8)); warp wp of block y owns partition
// p = y * 8 + wp (v % parts == p) and column d = blockIdx.x * 32 + lane.
__global__ void __launch_bounds__(kThreads)
    embedding_backward_kernel(const int32_t *idx, int64_t n, const float *dout, int64_t vocab,
                              int64_t dim, int accumulate, float *dw, int64_t parts,
                              ax_cuda_check *chk) {
    __shared__ int32_t tile[kTile];
    const int lane = threadIdx.x & 31, wp = threadIdx.x / 32;
    const int64_t p = (int64_t)blockIdx.y * kWarps + wp;
    const int64_t d = (int64_t)blockIdx.x * 32 + lane;
    const bool mine = p < parts && d < dim; // this thread owns column d of partition p
    if (mine && !accumulate)
        for (int64_t v = p; v < vocab; v += parts)
            dw[v * dim + d] = 0.0f;
    for (int64_t base = 0; base < n; base += kTile) {
        const int64_t len = n - base < kTile ? n - base : kTile;
        __syncthreads(); // the previous tile is walked by every warp
        if (threadIdx.x < len)
            tile[threadIdx.x] = idx[base + threadIdx.x];
        __syncthreads();
        if (p >= parts)
            continue; // a warp past the last partition only helps stage the tiles
        for (int64_t j = 0; j < len; j++) {
            const int32_t v = tile[j];
            if (v < 0 || v >= vocab) {
                if (p == 0 && d == 0)
                    record_bad(chk, AX_CUDA_CHECK_EMBEDDING_BACKWARD, base + j, v, vocab);
                continue;
            }
            if ((uint32_t)v % (uint32_t)parts != (uint32_t)p || d >= dim)
                continue;
            float *e = dw + (int64_t)v * dim + d;
            *e = __fadd_rn(*e, dout[(base + j) * dim + d]);
        }
    }
}

} // namespace

extern "C" ax_status ax_cuda_embedding_forward(ax_ctx *ctx, const int32_t *idx, int64_t n,
                                               const float *w, int64_t vocab, int64_t dim,
                                               float *out) {
    const char *fn = "ax_embedding_forward";
    ax_cuda_check *chk = nullptr;
    AX_TRY(ax_cuda_device_check(ctx, fn, &chk));
    const unsigned blocks = ax_cuda_blocks(ctx, n * 32, kThreads);
    embedding_forward_kernel<<<blocks, kThreads, 0, ax_stream(ctx)>>>(idx, n, w, vocab, dim, out,
                                                                      chk);
    return ax_cuda_status(cudaGetLastError(), fn, "launch of embedding_forward_kernel");
}

extern "C" ax_status ax_cuda_embedding_backward(ax_ctx *ctx, const int32_t *idx, int64_t n,
                                                const float *dout, int64_t vocab, int64_t dim,
                                                int accumulate, float *dw) {
    const char *fn = "ax_embedding_backward";
    ax_cuda_check *chk = nullptr;
    AX_TRY(ax_cuda_device_check(ctx, fn, &chk));
    const int64_t col_blocks = (dim + 31) / 32;
    const int64_t want_warps = (int64_t)ctx->info.multiprocessors * (2048 / 32);
    int64_t parts = (want_warps + col_blocks - 1) / col_blocks;
    parts = parts > vocab ? vocab : parts;
    parts = parts > kMaxPartitions ? kMaxPartitions : parts < 1 ? 1 : parts;
    if (col_blocks > 0x7fffffffLL)
        return ax_fail(AX_ERR_UNSUPPORTED, fn, "dim %lld needs more than 2^31 blocks",
                       (long long)dim);
    const dim3 grid((unsigned)col_blocks, (unsigned)((parts + kWarps - 1) / kWarps));
    embedding_backward_kernel<<<grid, kThreads, 0, ax_stream(ctx)>>>(idx, n, dout, vocab, dim,
                                                                     accumulate, dw, parts, chk);
    return ax_cuda_status(cudaGetLastError(), fn, "launch of embedding_backward_kernel");
}
