import torch

from vistransfer.synthesis.slot_adam import SlotAdam


def test_matches_torch_adam_per_slot_with_resets_at_different_times():
    torch.manual_seed(0)
    S, D = 3, 5
    p = torch.randn(S, D, requires_grad=True)
    refs = [p[s].detach().clone().requires_grad_(True) for s in range(S)]
    ref_opts = [torch.optim.Adam([r], lr=0.05 * (s + 1)) for s, r in enumerate(refs)]
    opt = SlotAdam([p])
    lr = torch.tensor([0.05, 0.10, 0.15])
    targets = torch.randn(S, D)
    for step in range(12):
        if step == 5:  # slot 1 gets a new generator: fresh values and fresh optimizer state
            with torch.no_grad():
                p[1] = 0.0
            opt.reset(torch.tensor([1]))
            refs[1] = torch.zeros(D, requires_grad=True)
            ref_opts[1] = torch.optim.Adam([refs[1]], lr=0.10)
        ((p - targets) ** 2).sum().backward()
        opt.step(lr)
        for s in range(S):
            ref_opts[s].zero_grad()
            ((refs[s] - targets[s]) ** 2).sum().backward()
            ref_opts[s].step()
    for s in range(S):
        torch.testing.assert_close(p[s].detach(), refs[s].detach(), rtol=1e-4, atol=1e-5)


def test_masked_slots_do_not_move():
    p = torch.ones(2, 3, requires_grad=True)
    opt = SlotAdam([p])
    p.sum().backward()
    opt.step(torch.tensor([0.1, 0.1]), mask=torch.tensor([True, False]))
    assert torch.all(p[1] == 1.0) and torch.all(p[0] < 1.0)
