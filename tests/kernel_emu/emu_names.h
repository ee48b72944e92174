// The CUDA launchers and glue that the emulated kernel files define or call, renamed away
// from libaxon's (a CUDA build of libaxon has the real ones). Included before a kernel file.
#ifndef AX_EMU_NAMES_H
#define AX_EMU_NAMES_H

#define ax_cuda_conv2d_forward emu_conv2d_forward
#define ax_cuda_conv2d_backward_data emu_conv2d_backward_data
#define ax_cuda_conv2d_backward_filter emu_conv2d_backward_filter
#define ax_cuda_conv2d_algo emu_conv2d_algo
#define ax_cuda_gemm emu_cuda_gemm
#define ax_cuda_bias_add emu_cuda_bias_add
#define ax_cuda_status emu_cuda_status
#define ax_cuda_blocks emu_cuda_blocks

#endif
