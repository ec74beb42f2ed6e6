// Winograd F(4x4, 3x3) input and output transforms as two TensorFlow CPU ops, each one pass over
// memory. tfstyle/backbones/native.py builds this file with the compiler and flags of the installed
// TensorFlow (tf.sysconfig) on first use and loads it; without a compiler the same transforms run as
// TensorFlow ops (tfstyle/backbones/winograd.py), which is also where the algorithm is described.
//
// TfstyleWinogradTiles:  x (B, H, W, C) -> v (36, B * th * tw, C), th = ceil(H / 4), tw = ceil(W / 4):
//   tile (b, a, t)'s 6x6 input window starts at pixel (4a - 1, 4t - 1) (zeros outside the image), and
//   v[6i + j, tile, c] = (B^T d B)[i, j].
// TfstyleWinogradPixels: prod (36, B * th * tw, K), like (B, H, W, *) -> y (B, H, W, K):
//   y[b, 4a + p, 4t + q, k] = (A^T m A)[p, q] of tile (b, a, t), cropped to H x W.
// Both ops read their input once and write their output once, vectorised over the channels (the
// innermost, contiguous axis) and split over rows of tiles on TensorFlow's intra-op threads.

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

#ifdef __AVX__
#include <immintrin.h>
#endif

namespace {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::errors::InvalidArgument;
using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;

constexpr int kM = 4;            // output tile
constexpr int kN = 6;            // input tile
constexpr int64_t kBlock = 64;   // channels per inner block (a 6x6 block of them stays in L1)

inline int64_t Tiles(int64_t n) { return (n + kM - 1) / kM; }

// Copy `len` floats to `dst`, past the caches where the CPU allows (the outputs are larger than the
// caches and read only by the next op): no read of the destination's lines before they are written.
inline void Store(float* dst, const float* src, int64_t len) {
#ifdef __AVX__
  if ((reinterpret_cast<uintptr_t>(dst) & 31) == 0) {
    int64_t c = 0;
    for (; c + 8 <= len; c += 8) _mm256_stream_ps(dst + c, _mm256_loadu_ps(src + c));
    for (; c < len; ++c) dst[c] = src[c];
    return;
  }
#endif
  std::memcpy(dst, src, sizeof(float) * len);
}

// Makes the streamed stores of this thread visible before the op returns.
inline void StoreFence() {
#ifdef __AVX__
  _mm_sfence();
#endif
}

// out[r] = (B^T d)[r] for six rows d0..d5 of `len` floats.
inline void BtRows(const float* d0, const float* d1, const float* d2, const float* d3, const float* d4,
                   const float* d5, float* o0, float* o1, float* o2, float* o3, float* o4, float* o5,
                   int64_t len) {
  for (int64_t c = 0; c < len; ++c) {
    const float x0 = d0[c], x1 = d1[c], x2 = d2[c], x3 = d3[c], x4 = d4[c], x5 = d5[c];
    o0[c] = 4.f * x0 - 5.f * x2 + x4;
    o1[c] = -4.f * (x1 + x2) + x3 + x4;
    o2[c] = 4.f * (x1 - x2) - x3 + x4;
    o3[c] = 2.f * (x3 - x1) - x2 + x4;
    o4[c] = 2.f * (x1 - x3) - x2 + x4;
    o5[c] = 4.f * x1 - 5.f * x3 + x5;
  }
}

// out[r] = (A^T m)[r] for six rows m0..m5 of `len` floats.
inline void AtRows(const float* m0, const float* m1, const float* m2, const float* m3, const float* m4,
                   const float* m5, float* o0, float* o1, float* o2, float* o3, int64_t len) {
  for (int64_t c = 0; c < len; ++c) {
    const float s12 = m1[c] + m2[c], d12 = m1[c] - m2[c], s34 = m3[c] + m4[c], d34 = m3[c] - m4[c];
    o0[c] = m0[c] + s12 + s34;
    o1[c] = d12 + 2.f * d34;
    o2[c] = s12 + 4.f * s34;
    o3[c] = d12 + 8.f * d34 + m5[c];
  }
}

class TilesOp : public OpKernel {
 public:
  explicit TilesOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    OP_REQUIRES(ctx, x.dims() == 4, InvalidArgument("x must be (B, H, W, C), got ", x.shape().DebugString()));
    const int64_t B = x.dim_size(0), H = x.dim_size(1), W = x.dim_size(2), C = x.dim_size(3);
    const int64_t th = Tiles(H), tw = Tiles(W), T = B * th * tw;
    Tensor* v = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({kN * kN, T, C}), &v));
    if (T == 0 || C == 0) return;
    const float* src = x.flat<float>().data();
    float* dst = v->flat<float>().data();
    const int64_t plane = T * C;  // one of the 36 outputs
    auto work = [&](int64_t begin, int64_t end) {
      const int64_t cb_max = std::min(C, kBlock);
      float d[kN][kN][kBlock];   // the window, zero outside the image
      float r[kN][kN][kBlock];   // B^T d
      float o[kN][kN][kBlock];   // B^T d B
      for (int64_t row = begin; row < end; ++row) {  // a row of tiles: (b, a)
        const int64_t b = row / th, a = row % th;
        for (int64_t t = 0; t < tw; ++t) {
          const int64_t tile = row * tw + t;
          for (int64_t c0 = 0; c0 < C; c0 += cb_max) {
            const int64_t cb = std::min(cb_max, C - c0);
            for (int i = 0; i < kN; ++i) {
              const int64_t y = kM * a + i - 1;
              for (int j = 0; j < kN; ++j) {
                const int64_t xx = kM * t + j - 1;
                if (y < 0 || y >= H || xx < 0 || xx >= W) {
                  std::memset(d[i][j], 0, sizeof(float) * cb);
                } else {
                  std::memcpy(d[i][j], src + ((b * H + y) * W + xx) * C + c0, sizeof(float) * cb);
                }
              }
            }
            for (int j = 0; j < kN; ++j)  // columns j: B^T over the rows i
              BtRows(d[0][j], d[1][j], d[2][j], d[3][j], d[4][j], d[5][j], r[0][j], r[1][j], r[2][j],
                     r[3][j], r[4][j], r[5][j], cb);
            for (int i = 0; i < kN; ++i)  // rows i: B over the columns j
              BtRows(r[i][0], r[i][1], r[i][2], r[i][3], r[i][4], r[i][5], o[i][0], o[i][1], o[i][2],
                     o[i][3], o[i][4], o[i][5], cb);
            for (int i = 0; i < kN; ++i)
              for (int j = 0; j < kN; ++j)
                Store(dst + (i * kN + j) * plane + tile * C + c0, o[i][j], cb);
          }
        }
      }
      StoreFence();
    };
    const auto& workers = *ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers.num_threads, workers.workers, B * th, tw * kN * kN * C * 8, work);
  }
};

class PixelsOp : public OpKernel {
 public:
  explicit PixelsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& prod = ctx->input(0);
    const Tensor& like = ctx->input(1);
    OP_REQUIRES(ctx, prod.dims() == 3 && prod.dim_size(0) == kN * kN,
                InvalidArgument("prod must be (36, tiles, K), got ", prod.shape().DebugString()));
    OP_REQUIRES(ctx, like.dims() == 4, InvalidArgument("like must be (B, H, W, *), got ", like.shape().DebugString()));
    const int64_t B = like.dim_size(0), H = like.dim_size(1), W = like.dim_size(2), K = prod.dim_size(2);
    const int64_t th = Tiles(H), tw = Tiles(W), T = B * th * tw;
    OP_REQUIRES(ctx, prod.dim_size(1) == T,
                InvalidArgument("prod has ", prod.dim_size(1), " tiles, (B, H, W) = (", B, ", ", H, ", ", W,
                                ") needs ", T));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({B, H, W, K}), &y));
    if (T == 0 || K == 0) return;
    const float* src = prod.flat<float>().data();
    float* dst = y->flat<float>().data();
    const int64_t plane = T * K;
    auto work = [&](int64_t begin, int64_t end) {
      const int64_t kb_max = std::min(K, kBlock);
      float r[kM][kN][kBlock];  // A^T m: r[p][j]
      float o[kM][kM][kBlock];  // A^T m A: o[p][q]
      for (int64_t row = begin; row < end; ++row) {
        const int64_t b = row / th, a = row % th;
        for (int64_t t = 0; t < tw; ++t) {
          const int64_t tile = row * tw + t;
          for (int64_t k0 = 0; k0 < K; k0 += kb_max) {
            const int64_t kb = std::min(kb_max, K - k0);
            const float* m = src + tile * K + k0;
            for (int j = 0; j < kN; ++j)  // columns j: A^T over the rows i
              AtRows(m + (0 * kN + j) * plane, m + (1 * kN + j) * plane, m + (2 * kN + j) * plane,
                     m + (3 * kN + j) * plane, m + (4 * kN + j) * plane, m + (5 * kN + j) * plane, r[0][j],
                     r[1][j], r[2][j], r[3][j], kb);
            for (int p = 0; p < kM; ++p)  // rows p: A over the columns j
              AtRows(r[p][0], r[p][1], r[p][2], r[p][3], r[p][4], r[p][5], o[p][0], o[p][1], o[p][2], o[p][3], kb);
            for (int p = 0; p < kM; ++p) {
              const int64_t yy = kM * a + p;
              if (yy >= H) break;
              for (int q = 0; q < kM; ++q) {
                const int64_t xx = kM * t + q;
                if (xx >= W) break;
                Store(dst + ((b * H + yy) * W + xx) * K + k0, o[p][q], kb);
              }
            }
          }
        }
      }
      StoreFence();
    };
    const auto& workers = *ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers.num_threads, workers.workers, B * th, tw * kN * kN * K * 6, work);
  }
};

// A product of known dimensions, or an unknown one.
DimensionHandle TileCount(InferenceContext* c, DimensionHandle b, DimensionHandle h, DimensionHandle w) {
  if (!c->ValueKnown(b) || !c->ValueKnown(h) || !c->ValueKnown(w)) return c->UnknownDim();
  return c->MakeDim(c->Value(b) * Tiles(c->Value(h)) * Tiles(c->Value(w)));
}

}  // namespace

REGISTER_OP("TfstyleWinogradTiles")
    .Input("x: float")
    .Output("v: float")
    .SetShapeFn([](InferenceContext* c) {
      tensorflow::shape_inference::ShapeHandle x;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &x));
      c->set_output(0, c->MakeShape({c->MakeDim(kN * kN), TileCount(c, c->Dim(x, 0), c->Dim(x, 1), c->Dim(x, 2)),
                                     c->Dim(x, 3)}));
      return absl::OkStatus();
    });

REGISTER_OP("TfstyleWinogradPixels")
    .Input("prod: float")
    .Input("like: float")
    .Output("y: float")
    .SetShapeFn([](InferenceContext* c) {
      tensorflow::shape_inference::ShapeHandle prod, like;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &prod));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 4, &like));
      c->set_output(0, c->MakeShape({c->Dim(like, 0), c->Dim(like, 1), c->Dim(like, 2), c->Dim(prod, 2)}));
      return absl::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("TfstyleWinogradTiles").Device(DEVICE_CPU), TilesOp);
REGISTER_KERNEL_BUILDER(Name("TfstyleWinogradPixels").Device(DEVICE_CPU), PixelsOp);
