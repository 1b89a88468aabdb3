import pytest
import torch

from vistransfer.errors import VistransferError
from vistransfer.models.nets import MLP, ConvNet
from vistransfer.models.registry import canonical_model, create_model, list_models, model_arch
from vistransfer.students import canonical_name, list_students, paper_name


def test_one_registry_names_every_network_and_the_papers_names_are_aliases():
    assert canonical_model("CNN_ID") == canonical_model("teacher") == canonical_model("convnet") == "cnn_id"
    assert canonical_model("CNN_S") == "cnn_small" and canonical_model("CNN_s") == "cnn_tiny"  # the paper's case matters
    assert canonical_model("cifar-cnn1") == canonical_model("CNN1") == "cnn_cifar1"
    assert set(list_students()) == set(list_models()) | {"svm", "rf"}  # a neural student of every architecture
    assert [paper_name(n) for n in ("cnn_id", "CNN_S", "cnn_large", "cnn_tiny", "mlp", "svm", "RF")] == [
        "CNN_ID",
        "CNN_S",
        "CNN_L",
        "CNN_s",
        "MLP",
        "SVM",
        "RF",
    ]
    assert canonical_name("SVM") == "svm" and canonical_name("CNN_L") == "cnn_large"
    with pytest.raises(VistransferError, match="unknown architecture 'resnet'"):
        model_arch("resnet")


@pytest.mark.parametrize("name", list_models())
def test_create_model_builds_an_untrained_network_of_the_right_output(name):
    shape = (1, 1200) if "ecg" in name else (3, 32, 32) if "cifar" in name else (1, 28, 28)
    net = create_model(name, shape, 10).eval()
    assert isinstance(net, MLP if name == "mlp" else ConvNet)
    with torch.no_grad():
        assert net(torch.zeros(2, *shape)).shape == (2, 10)
