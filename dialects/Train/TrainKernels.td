#ifndef MCUTRAIN_TRAIN_KERNELS_TD
#define MCUTRAIN_TRAIN_KERNELS_TD

include "mlir/IR/EnumAttr.td"

/// A kernel of runtime/mcutrain_kernels.h: its C++ template parameters,
/// written as the header declares them (test/runtime/kernel-signatures.test
/// checks that they agree, name for name and in order). The compiler builds
/// each call's template arguments from this list (#train.kernel), so it
/// cannot pass them in the wrong number; a trailing `bool Overwrite = false`
/// is the variant that overwrites its output instead of adding to it, a
/// trailing `int Act` the activation a fused kernel ends with.
class Train_Kernel<string name, int value, list<string> params>
    : I32EnumAttrCase<name, value> {
  list<string> templateParameters = params;
}

defvar Train_ConvStrided = ["int N", "int C", "int HP", "int WP", "int F",
                            "int CG", "int KH", "int KW", "int OH", "int OW",
                            "int SH", "int SW", "int DH", "int DW", "int G"];
defvar Train_ConvGradInput = ["int N", "int C", "int H", "int W", "int F",
                              "int CG", "int KH", "int KW", "int HP",
                              "int WP", "int DH", "int DW", "int G"];
defvar Train_DepthwisePlanes = ["int N", "int C", "int H", "int W", "int HP",
                                "int WP", "int T", "int L", "int KH",
                                "int KW", "int OH", "int OW", "int SH",
                                "int SW", "int DH", "int DW"];
defvar Train_DepthwiseGradInput = ["int N", "int C", "int H", "int W",
                                   "int KH", "int KW", "int DYH", "int DYW",
                                   "int HP", "int WP", "int T", "int L",
                                   "int S0", "int S1", "int DH", "int DW"];

defvar Train_QConv = ["int N", "int C", "int H", "int W", "int F", "int KH",
                      "int KW", "int OH", "int OW", "int SH", "int SW",
                      "int PT", "int PL", "int DH", "int DW", "int XU",
                      "int XZ", "int Lo", "int Hi", "int WS"];
defvar Train_QDepthwise = ["int N", "int C", "int H", "int W", "int KH",
                           "int KW", "int OH", "int OW", "int SH", "int SW",
                           "int PT", "int PL", "int DH", "int DW", "int XU",
                           "int XZ", "int Lo", "int Hi", "int WS"];
defvar Train_QConvGrad = ["int N", "int C", "int H", "int W", "int F",
                          "int CG", "int KH", "int KW", "int OH", "int OW",
                          "int SH", "int SW", "int PT", "int PL", "int DH",
                          "int DW"];
defvar Train_QGemm = ["int M", "int N", "int K", "int TB", "int AU", "int AZ",
                      "int Lo", "int Hi", "int WS"];

def Train_KernelName : I32EnumAttr<"KernelName",
    "a kernel of runtime/mcutrain_kernels.h", [
      Train_Kernel<"conv2d", 0, Train_ConvStrided>,
      Train_Kernel<"conv2d_grad_input", 1, Train_ConvGradInput>,
      Train_Kernel<"conv2d_grad_input_strided", 2, Train_ConvStrided>,
      Train_Kernel<"conv2d_grad_weight", 3, Train_ConvStrided>,
      Train_Kernel<"depthwise_conv2d", 4, Train_DepthwisePlanes>,
      Train_Kernel<"depthwise_conv2d_grad_input", 5,
                   Train_DepthwiseGradInput>,
      Train_Kernel<"depthwise_conv2d_grad_weight", 6, Train_DepthwisePlanes>,
      Train_Kernel<"conv2d_bias_act", 7, !listconcat(Train_ConvStrided,
                                                     ["int Act"])>,
      Train_Kernel<"depthwise_conv2d_bias_act", 8,
                   !listconcat(Train_DepthwisePlanes, ["int Act"])>,
      Train_Kernel<"conv2d_grad_input_act", 9,
                   !listconcat(Train_ConvGradInput, ["int Act"])>,
      Train_Kernel<"depthwise_conv2d_grad_input_act", 10,
                   !listconcat(Train_DepthwiseGradInput, ["int Act"])>,
      Train_Kernel<"gemm", 11, ["int M", "int N", "int K", "int TA", "int TB",
                                "bool Overwrite = false"]>,
      Train_Kernel<"sgd_outer_update_input_grad", 12,
                   ["int M", "int N", "bool Overwrite = false"]>,
      Train_Kernel<"sum_rows", 13, ["int B", "int M", "int K",
                                    "bool Overwrite = false"]>,
      Train_Kernel<"qconv2d", 14, Train_QConv>,
      Train_Kernel<"qgemm", 15, Train_QGemm>,
      Train_Kernel<"max_pool8", 16, ["int N", "int C", "int HP", "int WP",
                                     "int KH", "int KW", "int OH", "int OW",
                                     "int SH", "int SW", "int DH", "int DW",
                                     "int XU"]>,
      Train_Kernel<"qdepthwise2d", 17, Train_QDepthwise>,
      Train_Kernel<"qconv2d_lut", 18, Train_QConv>,
      Train_Kernel<"qgemm_lut", 19, Train_QGemm>,
      Train_Kernel<"qdepthwise2d_lut", 20, Train_QDepthwise>,
      Train_Kernel<"qconv2d_grad_weight", 21,
                   !listconcat(Train_QConvGrad, ["int XU", "int XZ"])>,
      Train_Kernel<"qconv2d_grad_input", 22, Train_QConvGrad>,
      Train_Kernel<"qgemm_grad_a", 23, ["int M", "int N", "int K",
                                        "int TB"]>,
      Train_Kernel<"conv_chain", 24, [
          "int N", "int C", "int HP", "int WP", "int M", "int KH", "int KW",
          "int OH", "int OW", "int SH", "int SW", "int DH", "int DW",
          "int HP2", "int WP2", "int T", "int L", "int KH2", "int KW2",
          "int OH2", "int OW2", "int SH2", "int SW2", "int DH2", "int DW2",
          "int F", "int Act1", "int Act2", "int Act3", "int MB"]>,
      Train_Kernel<"qconv_chain", 25, [
          "int N", "int C", "int H", "int W", "int M", "int KH", "int KW",
          "int OH", "int OW", "int SH", "int SW", "int PT", "int PL", "int DH",
          "int DW", "int XU", "int XZ", "int Lo1", "int Hi1", "int WS1",
          "int KH2", "int KW2", "int OH2", "int OW2", "int SH2", "int SW2",
          "int PT2", "int PL2", "int DH2", "int DW2", "int XU2", "int XZ2",
          "int Lo2", "int Hi2", "int WS2", "int F", "int XU3", "int XZ3",
          "int Lo3", "int Hi3", "int WS3", "int MB"]>,
      Train_Kernel<"qdepthwise2d_inplace", 26, Train_QDepthwise>,
      Train_Kernel<"qdepthwise2d_lut_inplace", 27, Train_QDepthwise>,
      Train_Kernel<"sgd_outer_update", 28, ["int M", "int N"]>,
      Train_Kernel<"max_pool_grad", 29, ["int N", "int C", "int H", "int W",
                                         "int KH", "int KW", "int OH",
                                         "int OW", "int SH", "int SW",
                                         "int PT", "int PL", "int DH",
                                         "int DW"]>,
      Train_Kernel<"gather_grad", 30, ["int Outer", "int Rows", "int Inner",
                                       "int Positions", "int IndexBytes"]>,
      Train_Kernel<"sgd_low_rank_update", 31, ["int M", "int N", "int K"]>]> {
  let cppNamespace = "::mcutrain::train";
  let genSpecializedAttr = 0;
}

#endif
