import torch

from melanoma.model import CNNEnsemble, EnsembleConfig


def test_ensemble_output_is_the_mean_of_its_members_logits():
    torch.manual_seed(0)
    ensemble = CNNEnsemble(EnsembleConfig(members=3, widths=(4, 8))).eval()
    x = torch.randn(5, 3, 32, 32)
    members = torch.stack([member(x) for member in ensemble.members])  # (3, 5, 1)
    out = ensemble(x)
    assert out.shape == (5, 1)
    torch.testing.assert_close(out, members.mean(0))
    assert not torch.allclose(members[0], members[1])  # the members really differ
