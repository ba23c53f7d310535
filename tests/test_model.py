import torch

from melanoma.model import CNNConfig, CNNEnsemble, EnsembleConfig, SmallCNN


def test_ensemble_output_is_the_mean_of_its_members_logits():
    torch.manual_seed(0)
    ensemble = CNNEnsemble(EnsembleConfig(members=3, widths=(4, 8))).eval()
    x = torch.randn(5, 3, 32, 32)
    members = torch.stack([member(x) for member in ensemble.members])  # (3, 5, 1)
    assert len(members) == 3
    out = ensemble(x)
    assert out.shape == (5, 1)
    torch.testing.assert_close(out, members.mean(0))
    assert not torch.allclose(members[0], members[1])  # the members really differ


def test_dropout_drops_features_before_the_head_never_the_logit_itself():
    """Training-mode dropout zeroes pooled features; the head still adds its bias, so no logit is
    exactly 0. Dropping the logit instead would zero about half of them at p=0.5."""
    torch.manual_seed(0)
    model = SmallCNN(CNNConfig(widths=(4, 8), dropout=0.5)).train()
    with torch.no_grad():
        model.head.bias.fill_(0.25)
        logits = model(torch.randn(64, 3, 32, 32))
    assert logits.shape == (64, 1)
    assert (logits != 0).all(), f"{int((logits == 0).sum())} of 64 logits are exactly 0"
    model.eval()  # and in eval mode dropout is the identity
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(model(x), model.head(model.pool(model.features(x)).flatten(1)))


def test_each_stage_halves_the_image_and_the_head_sees_each_channels_mean():
    """32 -> 16 -> 8 -> 4 with 3x3 convs padded to keep the size, then global average pooling."""
    torch.manual_seed(0)
    model = SmallCNN(CNNConfig(widths=(4, 8, 16))).eval()
    x = torch.randn(2, 3, 32, 32)
    features = model.features(x)
    assert features.shape == (2, 16, 4, 4)
    torch.testing.assert_close(model(x), model.head(features.mean(dim=(2, 3))))
