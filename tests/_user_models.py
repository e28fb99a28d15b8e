"""Plain-PyTorch networks written independently of the spectrum package, for `spectrum.convert` and
`python -m spectrum.cost --model tests/_user_models.py:FUNCTION`: a ResNet-18 for 32x32 images (BasicBlock,
[2, 2, 2, 2], a 3x3 stem, He et al. arXiv 1512.03385 section 4.2's CIFAR stem) and a MobileNet-style network
(depthwise 3x3 + pointwise 1x1, Howard et al. arXiv 1704.04861), plus the broken ones the usage errors need."""
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, num_classes=10, in_channels=3, width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        layers, channels = [], width
        for i, stride in enumerate((1, 2, 2, 2)):
            out = width * 2**i
            layers.append(nn.Sequential(BasicBlock(channels, out, stride), BasicBlock(out, out)))
            channels = out
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.pool(x).flatten(1))


def resnet18(num_classes=10, in_channels=3, width=64):
    return ResNet18(num_classes, in_channels, width)


def resnet18_w8(num_classes=10, in_channels=3):
    """The same ResNet-18 at a base width of 8 (8 to 64 channels): a study's tests train it in a second."""
    return ResNet18(num_classes, in_channels, width=8)


def _conv_bn(in_channels, out_channels, kernel, stride=1, groups=1):
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class Separable(nn.Module):
    """Depthwise 3x3 (groups = channels) then pointwise 1x1, each with BN and ReLU."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.dw = _conv_bn(in_channels, in_channels, 3, stride, groups=in_channels)
        self.pw = _conv_bn(in_channels, out_channels, 1)

    def forward(self, x):
        return self.pw(self.dw(x))


def mobilenet(num_classes=10, in_channels=3):
    widths = ((32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1))
    return nn.Sequential(
        _conv_bn(in_channels, 32, 3),
        *(Separable(c, n, s) for c, n, s in widths),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, num_classes),
    )


def no_in_channels(num_classes=10):
    """A network whose builder takes no in_channels: called with num_classes alone."""
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes))


def only_pointwise(num_classes=10, in_channels=3):
    return nn.Sequential(nn.Conv2d(in_channels, 8, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes))


def not_a_module(num_classes=10, in_channels=3):
    return "resnet"


def raises(num_classes=10, in_channels=3):
    raise RuntimeError(f"no weights for\n{num_classes} classes")


NOT_CALLABLE = 3
