"""torchvision as the tests' reference model zoo, importable beside a CPU-only torch.

torchvision's wheels from PyPI carry a compiled `_C.so` built against CUDA, which fails to load
beside the CPU build of torch. torchvision then goes on without its C++ ops, but
`torchvision/_meta_registrations.py` registers fake kernels for `torchvision::nms` and
`torchvision::qnms` unconditionally, and registering for an operator that was never defined
fails: `import torchvision` raises "operator torchvision::nms does not exist". Defining the two
schemas (without kernels: the tests never call them) and importing again gets through; the
classification and segmentation models need no custom op and build and run normally.

The schemas are defined only after the import has failed: where `_C.so` does load, it defines
them itself and a second definition would be the error.
"""

from __future__ import annotations

import sys
from types import ModuleType

import paper_reference
import pytest

# Held for the life of the process: dropping the Library would remove the definitions again.
_SCHEMAS: list = []


def import_torchvision() -> ModuleType:
    """torchvision, or a pytest skip where torch or torchvision is not installed."""
    torch = pytest.importorskip("torch")
    try:
        return pytest.importorskip("torchvision")
    except RuntimeError as error:
        if "torchvision::nms" not in str(error):
            raise
    # The failed import leaves its submodules behind; the second import must run them afresh.
    for name in [name for name in sys.modules if name == "torchvision" or name.startswith("torchvision.")]:
        del sys.modules[name]
    library = torch.library.Library("torchvision", "DEF")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _SCHEMAS.append(library)
    return pytest.importorskip("torchvision")


# torchvision's builder for each built-in architecture it has (the names are the same), with the
# parameter counts of torchvision's model documentation (weights=None, 1000 classes).
TORCHVISION_PARAMS = {
    "alexnet": 61_100_840,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "wide_resnet50_2": 68_883_240,
    "squeezenet1_1": 1_235_496,
    "densenet121": 7_978_856,
    # Not in the classification zoo: the segmentation model with aux_loss=False (the figure of
    # issue 9), and vgg19's `features` up to conv5_1's ReLU (20,024,384 less conv5_2..conv5_4).
    "fcn_resnet50": 32_957_013,
    "vgg19_features": 12_944_960,
}

# The reference modules that are not `torchvision.models.NAME(weights=None)`, by built-in name.
BUILDERS = {
    "fcn_resnet50": lambda tv: tv.models.segmentation.fcn_resnet50(
        weights=None, weights_backbone=None, aux_loss=False
    ),
    # vgg19's `features` exactly as VGG builds them, without initialising its 120M-weight classifier.
    "vgg19_features": lambda tv: paper_reference.style_taps(
        tv.models.vgg.make_layers(tv.models.vgg.cfgs["E"])
    ),
    "unet": lambda _: paper_reference.unet(pad=0),
    "unet_padded": lambda _: paper_reference.unet(pad=1),
}


def _build(name: str):
    torchvision = import_torchvision()
    if name in BUILDERS:
        return BUILDERS[name](torchvision)
    return getattr(torchvision.models, name)(weights=None)


def reference_model(name: str):
    """torchvision's model `name` in eval mode, its batchnorms given statistics far from the identity.

    A fresh batchnorm (mean 0, variance 1, weight 1, bias 0) is nearly the identity in eval
    mode, which would let a batchnorm mapped to the wrong layer pass unnoticed.
    """
    import_torchvision()
    import torch

    torch.manual_seed(0)
    model = _build(name).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model


def meta_model(name: str):
    """torchvision's model `name` on the meta device: shapes only, nothing allocated or initialised."""
    import_torchvision()
    import torch

    with torch.device("meta"):
        return _build(name)


def reference_outputs(model, x) -> tuple:
    """A reference model's outputs as a tuple: torchvision's segmentation models return a dict
    whose "out" is the network's output; the style taps return a tuple already."""
    out = model(x)
    if isinstance(out, dict):
        return (out["out"],)
    return out if isinstance(out, tuple) else (out,)


def reference_macs(model, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of conv and linear weights in a torchvision model, counted by forward hooks.

    Counted from the shapes PyTorch itself produces (run it on the meta device: then nothing is
    computed): each output value of a conv costs in_channels/groups x kernel area multiply-adds,
    each of a linear layer in_features, each input value of a transposed conv
    out_channels/groups x kernel area. Biases, norms, pools and activations count nothing, as
    in cnndsl.
    """
    import torch

    total = 0

    def count(module, inputs, output) -> None:
        nonlocal total
        if isinstance(module, torch.nn.ConvTranspose2d):  # each input value meets out/groups x kh x kw
            total += inputs[0][0].numel() * module.weight[0].numel()
        else:
            total += output[0].numel() * module.weight[0].numel()  # batch 1; in/groups x kh x kw

    hooks = [
        module.register_forward_hook(count)
        for module in model.modules()
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear))
    ]
    device = next(model.parameters()).device
    model(torch.empty(1, *input_shape, device=device))
    for hook in hooks:
        hook.remove()
    return total


def _resnet_key(key: str, block: str) -> str:
    """torchvision's ResNet names -> resnet_blocks.cnn's (stem, layerN.blockM, head)."""
    stem = {"conv1": "stem.conv1", "bn1": "stem.batchnorm1", "fc": "head.fc1"}
    module, _, leaf = key.rpartition(".")
    if module in stem:
        return f"{stem[module]}.{leaf}"
    layer, index, rest = module.split(".", 2)
    rest = {"downsample.0": "shortcut1.conv1", "downsample.1": "shortcut1.batchnorm1"}.get(
        rest, rest.replace("bn", "batchnorm")
    )
    return f"{layer}.{block}{int(index) + 1}.{rest}.{leaf}"


def _sequential_names(model) -> dict[str, str]:
    """VGG: torchvision's features.N -> stageS.convC (a max pool ends a stage), classifier.N -> fcK."""
    import torch

    names, stage, convs = {}, 1, 0
    for index, layer in enumerate(model.features):
        if isinstance(layer, torch.nn.Conv2d):
            convs += 1
            names[f"features.{index}"] = f"stage{stage}.conv{convs}"
        elif isinstance(layer, torch.nn.MaxPool2d):
            stage, convs = stage + 1, 0
    linears = [i for i, layer in enumerate(model.classifier) if isinstance(layer, torch.nn.Linear)]
    names |= {f"classifier.{index}": f"fc{k}" for k, index in enumerate(linears, 1)}
    return names


def _squeezenet_names(model) -> dict[str, str]:
    """squeezenet1_1.cnn: the first conv, fire1..fire8 (squeeze, then two branches), the last conv."""
    fire = import_torchvision().models.squeezenet.Fire
    names = {"features.0": "conv1", "classifier.1": "conv2"}
    fires = [i for i, layer in enumerate(model.features) if isinstance(layer, fire)]
    for number, index in enumerate(fires, 1):
        names[f"features.{index}.squeeze"] = f"fire{number}.conv1"
        names[f"features.{index}.expand1x1"] = f"fire{number}.branch1.conv1"
        names[f"features.{index}.expand3x3"] = f"fire{number}.branch2.conv1"
    return names


def _densenet_key(key: str) -> str:
    """densenet121.cnn: dense layers are the second branch of a concat whose first passes the input on."""
    module, _, leaf = key.rpartition(".")
    fixed = {"features.conv0": "conv1", "features.norm0": "batchnorm1", "features.norm5": "batchnorm2"}
    if module in fixed:
        return f"{fixed[module]}.{leaf}"
    if module == "classifier":
        return f"fc1.{leaf}"
    parts = module.split(".")[1:]  # after "features"
    if parts[0].startswith("transition"):
        layer = {"norm": "batchnorm1", "conv": "conv1"}[parts[1]]
        return f"{parts[0]}.{layer}.{leaf}"
    block, layer, inner = parts  # denseblockB, denselayerL, norm1|conv1|norm2|conv2
    number = layer.removeprefix("denselayer")
    return f"{block}.dense_layer{number}.branch2.{inner.replace('norm', 'batchnorm')}.{leaf}"


def mapped_state(name: str, model) -> dict:
    """torchvision's state dict under the compiled module's names, by an explicit rule per family."""
    state = model.state_dict()
    if name.startswith(("resnet", "resnext", "wide_resnet")):
        block = "basic" if name in ("resnet18", "resnet34") else "bottleneck"
        return {_resnet_key(key, block): value for key, value in state.items()}
    if name == "fcn_resnet50":
        # backbone.* is torchvision's ResNet-50 under the scope `backbone`; the FCNHead's
        # Sequential (conv, bn, relu, dropout, conv) is classifier.0, .1 and .4.
        head = {"classifier.0": "classifier.conv1", "classifier.1": "classifier.batchnorm1"}
        head["classifier.4"] = "classifier.conv2"
        mapped = {}
        for key, value in state.items():
            module, _, leaf = key.rpartition(".")
            if module in head:
                mapped[f"{head[module]}.{leaf}"] = value
            else:
                mapped["backbone." + _resnet_key(key.removeprefix("backbone."), "bottleneck")] = value
        return mapped
    if name == "vgg19_features":
        # features.N -> the conv_relu call labelled as Gatys et al. name the layer (conv3_2).
        names, stage, convs = {}, 1, 0
        for index, layer in enumerate(model.features):
            if type(layer).__name__ == "Conv2d":
                convs += 1
                names[f"features.{index}"] = f"conv{stage}_{convs}.conv1"
            elif type(layer).__name__ == "MaxPool2d":
                stage, convs = stage + 1, 0
        mapped = {}
        for key, value in state.items():
            module, _, leaf = key.rpartition(".")
            mapped[f"{names[module]}.{leaf}"] = value
        return mapped
    if name.startswith("unet"):
        return {paper_reference.unet_key(key): value for key, value in state.items()}
    if name == "densenet121":
        return {_densenet_key(key): value for key, value in state.items()}
    if name.startswith(("vgg", "squeezenet")):
        names = _sequential_names(model) if name.startswith("vgg") else _squeezenet_names(model)
        mapped = {}
        for key, value in state.items():
            module, _, leaf = key.rpartition(".")
            mapped[f"{names[module]}.{leaf}"] = value
        return mapped
    raise KeyError(f"no key mapping for {name}")


# The built-ins whose outputs the tests compare with torchvision's, and the input size they use:
# a quarter of the pixels for most (every stage still strides and pools), VGG-19 and the wide
# ResNet at their own size since they take seconds to build anyway (they are marked slow).
COMPARED = {
    "resnet18": (3, 112, 112),
    "resnet50": (3, 112, 112),
    "resnext50_32x4d": (3, 112, 112),
    "squeezenet1_1": (3, 112, 112),
    "densenet121": (3, 112, 112),
    "vgg19": (3, 224, 224),
    "wide_resnet50_2": (3, 224, 224),
    "fcn_resnet50": (3, 64, 64),
    "vgg19_features": (3, 64, 64),
    "unet": (1, 188, 188),  # the smallest valid size: 2x4x4 out, every crop still crops
    "unet_padded": (1, 64, 64),
}
SLOW = {"vgg19", "wide_resnet50_2"}


def compared_params() -> list:
    """COMPARED's names as pytest parameters, the slow ones marked."""
    return [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in COMPARED]
