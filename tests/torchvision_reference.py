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
    "mobilenet_v2": 3_504_872,
    "mobilenet_v3_large": 5_483_032,
    "mobilenet_v3_small": 2_542_856,
    "efficientnet_b0": 5_288_548,
    "convnext_tiny": 28_589_128,
    "shufflenet_v2_x1_0": 2_278_604,
    "inception_v3": 27_161_264,  # with its auxiliary classifier; 23,834,568 without
    # Not in the classification zoo: the segmentation model with aux_loss=False (the figure of
    # issue 9), and vgg19's `features` up to conv5_1's ReLU (20,024,384 less conv5_2..conv5_4).
    "fcn_resnet50": 32_957_013,
    "vgg19_features": 12_944_960,
}

# Builder arguments beyond weights=None: Inception-v3's truncated-normal initialisation takes
# seconds and is overwritten anyway (aux_logits=True is the default, said here for the reader).
BUILDER_ARGUMENTS = {"inception_v3": {"init_weights": False, "aux_logits": True}}

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
    return getattr(torchvision.models, name)(weights=None, **BUILDER_ARGUMENTS.get(name, {}))


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
            elif isinstance(module, torch.nn.LayerNorm):  # torchvision's LayerNorm2d too
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
        # ConvNeXt's layer scale starts at 1e-6, which would hide a wrongly mapped block.
        for key, parameter in model.named_parameters():
            if key.endswith("layer_scale"):
                parameter.uniform_(0.5, 1.5)
    return model


def meta_model(name: str):
    """torchvision's model `name` on the meta device: shapes only, nothing allocated or initialised."""
    import_torchvision()
    import torch

    with torch.device("meta"):
        return _build(name)


def reference_outputs(model, x) -> tuple:
    """A reference model's outputs as a tuple, in the order the built-in declares them.

    torchvision's segmentation models return a dict whose "out" is the network's output; the
    style taps return a tuple already. Inception-v3 in eval mode returns only its main logits;
    its auxiliary classifier is run on Mixed_6e's output by a forward hook, as training would
    run it, and comes second.
    """
    aux = getattr(model, "AuxLogits", None)
    found = []
    hook = None
    if aux is not None:
        hook = model.Mixed_6e.register_forward_hook(lambda _m, _i, output: found.append(aux(output)))
    try:
        out = model(x)
    finally:
        if hook is not None:
            hook.remove()
    if isinstance(out, dict):
        return (out["out"],)
    return (*(out if isinstance(out, tuple) else (out,)), *found)


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
    # Eval mode, so that Inception-v3's auxiliary classifier runs once, through the hook.
    reference_outputs(model.eval(), torch.empty(1, *input_shape, device=device))
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


def _conv_norm(key: str) -> str:
    """torchvision's Conv2dNormActivation (a Sequential: conv, norm, activation) -> conv1, batchnorm1."""
    index, _, leaf = key.partition(".")
    return f"{('conv1', 'batchnorm1')[int(index)]}.{leaf}"


def _mobilenet_v2_key(key: str) -> str:
    """mobilenet_v2.cnn: features.0 is the stem, 1..17 inverted_residualN, 18 the last conv.

    A block's `conv` Sequential is expand (absent where t = 1, in block 1), depthwise (both
    Conv2dNormActivation), then the projection's conv and batchnorm.
    """
    if key.startswith("classifier.1."):
        return "fc1." + key.removeprefix("classifier.1.")
    _, index, rest = key.split(".", 2)
    block = int(index)
    if block == 0:
        return "stem." + _conv_norm(rest)
    if block == 18:
        return "last." + _conv_norm(rest)
    _, position, rest = rest.split(".", 2)  # conv.P.rest
    parts = (["expand"] if block > 1 else []) + ["depthwise", "project", "batchnorm1"]
    part = parts[int(position)]
    if part in ("expand", "depthwise"):
        return f"inverted_residual{block}.{part}.{_conv_norm(rest)}"
    return f"inverted_residual{block}.{part}.{rest}"


def _inverted_residual_names(prefix: str, block, name: str) -> dict[str, str]:
    """An inverted residual's `block` Sequential (MobileNetV3, EfficientNet) -> NAME's labels.

    torchvision's layers, in order: an expanding Conv2dNormActivation (absent where the block
    does not expand), the depthwise one, SqueezeExcitation (where the block has one: fc1, fc2),
    and the projection's conv and batchnorm (the last Conv2dNormActivation, no activation).
    """
    squeeze_excitation = import_torchvision().ops.SqueezeExcitation
    layers = list(block)
    names = {}
    convs = [index for index, layer in enumerate(layers[:-1]) if not isinstance(layer, squeeze_excitation)]
    for part, index in zip(["expand", "depthwise"][2 - len(convs) :], convs, strict=True):
        names[f"{prefix}.{index}.0"] = f"{name}.{part}.conv1"
        names[f"{prefix}.{index}.1"] = f"{name}.{part}.batchnorm1"
    for index, layer in enumerate(layers):
        if isinstance(layer, squeeze_excitation):
            for fc in ("fc1", "fc2"):
                names[f"{prefix}.{index}.{fc}"] = f"{name}.squeeze_excitation1.{fc}"
    last = len(layers) - 1
    return names | {f"{prefix}.{last}.0": f"{name}.project", f"{prefix}.{last}.1": f"{name}.batchnorm1"}


def _mobilenet_v3_names(model) -> dict[str, str]:
    """mobilenet_v3_*.cnn: stem, inverted_residualN (features 1..N), head (last conv, fc1, fc2)."""
    blocks = len(model.features) - 2
    names = {"features.0.0": "stem.conv1", "features.0.1": "stem.batchnorm1"}
    for number in range(1, blocks + 1):
        names |= _inverted_residual_names(
            f"features.{number}.block", model.features[number].block, f"inverted_residual{number}"
        )
    last = blocks + 1
    return names | {
        f"features.{last}.0": "head.last.conv1",
        f"features.{last}.1": "head.last.batchnorm1",
        "classifier.0": "head.fc1",
        "classifier.3": "head.fc2",
    }


def _efficientnet_names(model) -> dict[str, str]:
    """efficientnet_b0.cnn: stem, mbconv1..16 numbered across torchvision's stages 1..7, last, fc1."""
    names = {"features.0.0": "stem.conv1", "features.0.1": "stem.batchnorm1"}
    number = 0
    for stage in range(1, len(model.features) - 1):
        for index, mbconv in enumerate(model.features[stage]):
            number += 1
            prefix = f"features.{stage}.{index}.block"
            names |= _inverted_residual_names(prefix, mbconv.block, f"mbconv{number}")
    last = len(model.features) - 1
    return names | {
        f"features.{last}.0": "last.conv1",
        f"features.{last}.1": "last.batchnorm1",
        "classifier.1": "fc1",
    }


# The families mapped module by module: a rule names each torchvision module holding weights.
_MODULE_NAMES = {
    "vgg": _sequential_names,
    "squeezenet": _squeezenet_names,
    "mobilenet_v3": _mobilenet_v3_names,
    "efficientnet": _efficientnet_names,
}


# ConvNeXt: torchvision's features.0 is the stem, features.1/3/5/7 the four stages of blocks and
# features.2/4/6 the downsampling layers; convnext_tiny.cnn calls its 18 blocks in a row.
_CONVNEXT_FIRST_BLOCK = {"1": 0, "3": 3, "5": 6, "7": 15}
# Inside a block: block.0 the depthwise conv, block.2 the LayerNorm (block.1 and block.6 permute
# to channels-last and back), block.3 and block.5 the two Linear layers (block.4 the GELU).
_CONVNEXT_BLOCK = {"0": "conv1", "2": "layernorm1", "3": "conv2", "5": "conv3"}


def _convnext_key(key: str) -> str:
    """convnext_tiny.cnn: conv1/layernorm1 stem, cnblock1..18, downsample1..3, layernorm2 and fc1."""
    fixed = {
        "features.0.0": "conv1",
        "features.0.1": "layernorm1",
        "classifier.0": "layernorm2",
        "classifier.2": "fc1",
    }
    module, _, leaf = key.rpartition(".")
    if module in fixed:
        return f"{fixed[module]}.{leaf}"
    _, stage, index, *rest = key.split(".")
    if stage in ("2", "4", "6"):
        number = int(stage) // 2
        return f"downsample{number}.{('layernorm1', 'conv1')[int(index)]}.{leaf}"
    block = f"cnblock{_CONVNEXT_FIRST_BLOCK[stage] + int(index) + 1}"
    if leaf == "layer_scale":
        return f"{block}.layerscale1.weight"
    return f"{block}.{_CONVNEXT_BLOCK[rest[1]]}.{leaf}"


def _convnext_value(key: str, value):
    """A channels-last nn.Linear weight (out, in) is the 1x1 conv weight (out, in, 1, 1).

    The Linear layers act on each pixel's C values, as a 1x1 conv does, so the same numbers in
    the same row-major order only gain two trailing sizes of 1. Their biases, the LayerNorms' and
    the layer scale (already C x 1 x 1, the shape of the LayerScale module's weight) copy as they are.
    """
    parts = key.split(".")
    if len(parts) == 6 and parts[3] == "block" and parts[4] in ("3", "5") and parts[5] == "weight":
        return value[:, :, None, None]
    return value


# ShuffleNetV2: torchvision's Sequential indices -> shufflenet_v2_x1_0.cnn's names. branch1 (the
# strided units' depthwise branch) is conv, bn, conv, bn, relu; branch2 is conv, bn, relu, conv,
# bn, conv, bn, relu. The units that split their input have only branch2, which is their
# concat's second branch too (the first passes its half on).
_SHUFFLENET_BRANCH = {
    "branch1": {"0": "conv1", "1": "batchnorm1", "2": "conv2", "3": "batchnorm2"},
    "branch2": {
        "0": "conv1",
        "1": "batchnorm1",
        "3": "conv2",
        "4": "batchnorm2",
        "5": "conv3",
        "6": "batchnorm3",
    },
}


def _shufflenet_key(key: str) -> str:
    """shufflenet_v2_x1_0.cnn: conv1/batchnorm1 stem, stageS.shuffle_unitN, conv2/batchnorm2, fc1."""
    fixed = {
        "conv1.0": "conv1",
        "conv1.1": "batchnorm1",
        "conv5.0": "conv2",
        "conv5.1": "batchnorm2",
        "fc": "fc1",
    }
    module, _, leaf = key.rpartition(".")
    if module in fixed:
        return f"{fixed[module]}.{leaf}"
    stage, unit, branch, index = module.split(".")
    return f"{stage}.shuffle_unit{int(unit) + 1}.{branch}.{_SHUFFLENET_BRANCH[branch][index]}.{leaf}"


# Inception-v3: the labels are torchvision's module names, but each sits inside the concat
# branch (numbered from 1) that it belongs to, and InceptionE's 1x3/3x1 pairs in a branch of
# a nested concat. Per module kind, torchvision's branch name -> that path.
_INCEPTION_BRANCHES = {
    "A": {
        "branch1x1": "branch1",
        "branch5x5": "branch2",
        "branch3x3dbl": "branch3",
        "branch_pool": "branch4",
    },
    "B": {"branch3x3": "branch1", "branch3x3dbl": "branch2"},
    "C": {
        "branch1x1": "branch1",
        "branch7x7": "branch2",
        "branch7x7dbl": "branch3",
        "branch_pool": "branch4",
    },
    "D": {"branch3x3": "branch1", "branch7x7x3": "branch2"},
    "E": {
        "branch1x1": "branch1",
        "branch3x3_1": "branch2",
        "branch3x3_2a": "branch2.branch1",
        "branch3x3_2b": "branch2.branch2",
        "branch3x3dbl_1": "branch3",
        "branch3x3dbl_2": "branch3",
        "branch3x3dbl_3a": "branch3.branch1",
        "branch3x3dbl_3b": "branch3.branch2",
        "branch_pool": "branch4",
    },
}
_INCEPTION_KINDS = {"5b": "A", "5c": "A", "5d": "A", "6a": "B", "6b": "C", "6c": "C", "6d": "C", "6e": "C"}
_INCEPTION_KINDS |= {"7a": "D", "7b": "E", "7c": "E"}


def _inception_key(key: str) -> str:
    """inception_v3.cnn: a BasicConv2d's conv and bn are its basic_conv block's conv1 and batchnorm1."""
    *modules, layer, leaf = key.split(".")
    layer = {"conv": "conv1", "bn": "batchnorm1"}.get(layer, layer)  # fc (and AuxLogits.fc) stay
    if modules and modules[0].startswith("Mixed_"):
        mixed, branch = modules
        branches = _INCEPTION_BRANCHES[_INCEPTION_KINDS[mixed.removeprefix("Mixed_")]]
        path = branches.get(branch) or branches[branch.rpartition("_")[0]]
        modules = [mixed, path, branch]
    return ".".join([*modules, layer, leaf])


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
    if name == "mobilenet_v2":
        return {_mobilenet_v2_key(key): value for key, value in state.items()}
    rule = next((rule for prefix, rule in _MODULE_NAMES.items() if name.startswith(prefix)), None)
    if rule is not None:
        names = rule(model)
        mapped = {}
        for key, value in state.items():
            module, _, leaf = key.rpartition(".")
            mapped[f"{names[module]}.{leaf}"] = value
        return mapped
    if name == "convnext_tiny":
        return {_convnext_key(key): _convnext_value(key, value) for key, value in state.items()}
    if name == "shufflenet_v2_x1_0":
        return {_shufflenet_key(key): value for key, value in state.items()}
    if name == "inception_v3":
        return {_inception_key(key): value for key, value in state.items()}
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
    "mobilenet_v2": (3, 112, 112),
    "mobilenet_v3_large": (3, 112, 112),
    "mobilenet_v3_small": (3, 112, 112),
    "efficientnet_b0": (3, 112, 112),
    "vgg19": (3, 224, 224),
    "wide_resnet50_2": (3, 224, 224),
    "convnext_tiny": (3, 112, 112),
    "shufflenet_v2_x1_0": (3, 112, 112),
    # Its own size: the auxiliary classifier's 5x5 conv needs Mixed_6e at 17x17.
    "inception_v3": (3, 299, 299),
    "fcn_resnet50": (3, 64, 64),
    "vgg19_features": (3, 64, 64),
    "unet": (1, 188, 188),  # the smallest valid size: 2x4x4 out, every crop still crops
    "unet_padded": (1, 64, 64),
}
SLOW = {"vgg19", "wide_resnet50_2"}


def compared_params() -> list:
    """COMPARED's names as pytest parameters, the slow ones marked."""
    return [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in COMPARED]
