"""Fine-tuning tasks and the on-device fine-tuning loop of the sparse-update
studies, run through the Python front end (mcutrain.Package: the generated
C++ built for the host).

Tasks (each shifted from the backbone's pretraining on upright
Fashion-MNIST; images in the backbone's input format):
  rot90    Fashion-MNIST rotated by 90 degrees: training images of the
           seed's shuffle, the first 2000 rotated test images
  digits   sklearn's 8x8 digits upscaled to 24x24 in 28x28: 1200 training
           images (several epochs), the other 597 for testing
  classes  the backbone pretrained on classes 0-4 only learns classes 5-9:
           their training images, their 5000 test images (10-way argmax)
"""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))  # mcutrain, for the callers
sys.path.insert(0, os.path.join(ROOT, "examples", "fashion-mnist"))
import model as demo  # noqa: E402
import pretrained  # noqa: E402

TASKS = ("rot90", "digits", "classes")


def backbone_classes(task):
    """The classes the task's backbone is pretrained on."""
    return "0-4" if task == "classes" else None


def _digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    imgs = np.kron(d.images / 16.0, np.ones((3, 3)))
    imgs = np.pad(imgs, ((0, 0), (2, 2), (2, 2)))[:, None].astype(np.float32)
    order = np.random.RandomState(0).permutation(len(imgs))
    return imgs[order], d.target[order].astype(np.int64)


def make_task(task, arch, seed, steps, test=2000):
    """(train x, train y, test x, test y) for `steps` training steps."""
    rng = np.random.RandomState(1000 + seed)
    if task == "digits":
        x, y = _digits()
        tx, ty, sx, sy = x[:1200], y[:1200], x[1200:], y[1200:]
        order = np.concatenate([rng.permutation(1200)
                                for _ in range(-(-steps // 1200))])[:steps]
        tx, ty = tx[order], ty[order]
    else:
        x, y = demo.load_split("train")
        sx, sy = demo.load_split("test")
        if task == "rot90":
            rot = lambda a: np.ascontiguousarray(np.rot90(a, 1, axes=(2, 3)))
            x, sx, sy = rot(x), rot(sx[:test]), sy[:test]
        else:  # classes: 5-9
            keep = sy >= 5
            sx, sy = sx[keep], sy[keep]
            keep = y >= 5
            x, y = x[keep], y[keep]
        order = rng.permutation(len(x))[:steps]
        tx, ty = x[order], y[order]
    return (pretrained.as_input(arch, tx), ty.astype(np.int32),
            pretrained.as_input(arch, sx), sy.astype(np.int32))


def accuracy(pkg, x, y):
    right = sum(int(np.argmax(pkg.predict(x[i])) == y[i])
                for i in range(len(x)))
    return 100.0 * right / len(x)


def finetune(pkg, data, eval_every=0, eval_images=500):
    """Trains `pkg` (an mcutrain.Package, batch 1) on the task's training
    images once in order; returns accuracy before/after on the test images,
    the mean MACs per step the generated code did, skipped steps and the
    accuracy curve [(steps, accuracy on the first eval_images test
    images)] every eval_every steps, and every step's loss."""
    tx, ty, sx, sy = data
    before = accuracy(pkg, sx, sy)
    curve = [(0, accuracy(pkg, sx[:eval_images], sy[:eval_images]))] \
        if eval_every else []
    macs, skipped, losses = 0, 0, []
    for i in range(len(tx)):
        losses.append(pkg.train_step(tx[i], ty[i]))
        stats = pkg.last_step()
        macs += stats.macs
        skipped += stats.skipped
        if eval_every and (i + 1) % eval_every == 0:
            curve.append((i + 1, accuracy(pkg, sx[:eval_images],
                                          sy[:eval_images])))
    return {"acc_before": before, "acc_after": accuracy(pkg, sx, sy),
            "step_macs": macs / len(tx), "skipped": skipped,
            "steps": len(tx), "curve": curve,
            "final_loss": float(np.nanmean(losses[-200:])), "losses": losses}
