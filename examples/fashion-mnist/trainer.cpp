// Host trainer for the Fashion-MNIST demo: links the C++ package mcutrain
// generated for the demo CNN, reads the IDX files, measures test accuracy,
// fine-tunes on training images the PyTorch pretraining never saw, and
// measures again.
//
//   trainer IDX_DIR [--train N] [--offset K] [--test N] [--epochs E]
#include MCUTRAIN_MODEL_HEADER

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace model = MCUTRAIN_MODEL;

namespace {

struct Dataset {
  std::vector<float> images; // N x 784, scaled to [0, 1]
  std::vector<std::int32_t> labels;
  std::size_t count = 0;
};

std::uint32_t readBigEndian(std::FILE *f) {
  unsigned char b[4];
  if (std::fread(b, 1, 4, f) != 4)
    return 0;
  return (std::uint32_t(b[0]) << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
}

bool readIdx(const std::string &path, std::uint32_t magic,
             std::vector<unsigned char> &out, std::uint32_t &count) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    std::fprintf(stderr, "trainer: cannot open %s\n", path.c_str());
    return false;
  }
  bool ok = readBigEndian(f) == magic;
  count = readBigEndian(f);
  std::size_t itemSize = 1;
  if (magic == 0x803) // images: rows, cols follow
    itemSize = std::size_t(readBigEndian(f)) * readBigEndian(f);
  out.resize(std::size_t(count) * itemSize);
  ok = ok && std::fread(out.data(), 1, out.size(), f) == out.size();
  std::fclose(f);
  if (!ok)
    std::fprintf(stderr, "trainer: %s is not a valid IDX file\n", path.c_str());
  return ok;
}

bool loadSplit(const std::string &dir, const char *prefix, Dataset &d) {
  std::vector<unsigned char> images, labels;
  std::uint32_t ni = 0, nl = 0;
  if (!readIdx(dir + "/" + prefix + "-images-idx3-ubyte", 0x803, images, ni) ||
      !readIdx(dir + "/" + prefix + "-labels-idx1-ubyte", 0x801, labels, nl))
    return false;
  if (ni != nl || images.size() != std::size_t(ni) * 784) {
    std::fprintf(stderr, "trainer: %s images and labels disagree\n", prefix);
    return false;
  }
  d.count = ni;
  d.images.resize(images.size());
  for (std::size_t i = 0; i < images.size(); ++i)
    d.images[i] = images[i] / 255.0f;
  d.labels.assign(labels.begin(), labels.end());
  return true;
}

double accuracy(const Dataset &test, std::size_t count) {
  static_assert(model::kInputSize == 784 * model::kBatch, "28x28 images");
  std::size_t correct = 0;
  float out[model::kOutputSize];
  for (std::size_t i = 0; i < count; ++i) {
    model::predict(&test.images[i * 784], out);
    correct += mcutrain::argmax(out, model::kNumClasses) ==
               std::size_t(test.labels[i]);
  }
  return 100.0 * double(correct) / double(count);
}

void progress(std::size_t done, std::size_t total, double loss) {
  const int width = 40;
  int filled = int(double(done) / double(total) * width);
  std::fprintf(stderr, "\r  [");
  for (int i = 0; i < width; ++i)
    std::fputc(i < filled ? '#' : '.', stderr);
  std::fprintf(stderr, "] %zu/%zu  mean loss %.4f", done, total, loss);
  if (done == total)
    std::fputc('\n', stderr);
}

std::size_t argValue(int argc, char **argv, const char *flag, std::size_t def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], flag) == 0)
      return std::strtoul(argv[i + 1], nullptr, 10);
  return def;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s IDX_DIR [--train N] [--offset K] "
                 "[--test N] [--epochs E]\n",
                 argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  Dataset train, test;
  if (!loadSplit(dir, "train", train) || !loadSplit(dir, "t10k", test))
    return 1;
  std::size_t offset = argValue(argc, argv, "--offset", 30000);
  std::size_t steps = argValue(argc, argv, "--train", 10000);
  std::size_t testCount = argValue(argc, argv, "--test", test.count);
  std::size_t epochs = argValue(argc, argv, "--epochs", 1);
  if (offset + steps > train.count || testCount > test.count) {
    std::fprintf(stderr, "trainer: not enough images for that request\n");
    return 2;
  }

  model::init();
  std::printf("mcutrain Fashion-MNIST demo (batch %zu)\n", model::kBatch);
  std::printf("  RAM: arena %zu B + trainable parameters %zu B + optimizer "
              "state %zu B = %zu B; frozen parameters (flash) %zu B\n",
              model::kArenaBytes, model::kTrainableParamBytes,
              model::kOptimizerStateBytes,
              model::kArenaBytes + model::kTrainableParamBytes +
                  model::kOptimizerStateBytes,
              model::kFrozenParamBytes);
  std::printf(
      "  MACs per training step: %llu (forward %llu + backward %llu)\n",
      (unsigned long long)model::kTrainStepMacs,
      (unsigned long long)(model::kTrainStepMacs - model::kBackwardMacs),
      (unsigned long long)model::kBackwardMacs);

  double before = accuracy(test, testCount);
  std::printf("  test accuracy before fine-tuning: %.2f%% (%zu images)\n",
              before, testCount);

  std::printf("  fine-tuning on training images %zu..%zu, %zu epoch(s):\n",
              offset, offset + steps - 1, epochs);
  std::fflush(stdout); // the progress bar goes to stderr
  auto start = std::chrono::steady_clock::now();
  std::size_t total = steps * epochs, done = 0;
  double window = 0.0;
  std::size_t inWindow = 0;
  // What the steps really did (sparse backward passes vary per step).
  unsigned long long macsDone = 0, forwardMacs = 0;
  for (std::size_t e = 0; e < epochs; ++e) {
    for (std::size_t i = 0; i + model::kBatch <= steps; i += model::kBatch) {
      std::size_t at = offset + i;
      float loss =
          model::train_step(&train.images[at * 784], &train.labels[at]);
      const mcutrain::StepStats &st = model::last_step();
      macsDone += st.macs;
      forwardMacs += model::kTrainStepMacs - model::kBackwardMacs;
      window += loss;
      ++inWindow;
      done += model::kBatch;
      if (done % 500 == 0 || done == total) {
        progress(done, total, window / double(inWindow));
        window = 0.0;
        inWindow = 0;
      }
    }
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  double after = accuracy(test, testCount);
  std::printf("  test accuracy after fine-tuning:  %.2f%%\n", after);
  std::size_t stepCount = total / model::kBatch;
  const mcutrain::StepStats &last = model::last_step();
  std::printf("  backward MACs done: %.0f per step on average (%llu steps, "
              "%u skipped)\n",
              double(macsDone - forwardMacs) / double(stepCount),
              (unsigned long long)stepCount, (unsigned)last.skipped_steps);
  std::printf("  training: %.1f us per step, %.2f GMAC/s\n",
              1e6 * seconds / double(stepCount),
              double(macsDone) / seconds / 1e9);
  return 0;
}
