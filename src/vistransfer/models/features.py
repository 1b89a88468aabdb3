"""Layer L-1 of a teacher network, for Loss2: the built-in contract, a TorchScript method, a module
of an exported graph, or a forward hook on a named module."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..errors import VistransferError
from .nets import ConvNet


def feature_fn(net: nn.Module, layer: str | None) -> tuple[Callable | None, str]:
    """(function of the normalized input -> layer L-1, how it was found) for a teacher network."""
    if layer is None:
        if isinstance(net, ConvNet):
            return net.features, "built-in contract (ConvNet.features)"
        return None, ""
    if isinstance(net, torch.jit.ScriptModule):
        method = getattr(net, layer, None)
        if callable(method) and not isinstance(method, torch.jit.ScriptModule):
            return method, f"TorchScript method {layer}()"
        raise VistransferError(
            f"--features-layer {layer}: a TorchScript model cannot be hooked after loading; give the name "
            "of a method it exports (@torch.jit.export def features(self, x)), or hand over a .pt2 or state_dict"
        )
    if isinstance(net, torch.fx.GraphModule) and _is_exported(net):
        return _fx_extractor(net, layer), f"exported graph, module {layer}"
    names = dict(net.named_modules())
    if layer not in names or not layer:
        some = [n for n in names if n][:12]
        raise VistransferError(f"--features-layer {layer!r} is not a module of this model; its modules include {some}")
    module = names[layer]

    def hooked(x: torch.Tensor) -> torch.Tensor:
        got = []
        handle = module.register_forward_hook(lambda m, i, o: got.append(o))
        try:
            net(x)
        finally:
            handle.remove()
        return got[-1]

    return hooked, f"forward hook on {layer}"


def _is_exported(gm: torch.fx.GraphModule) -> bool:
    return any("nn_module_stack" in n.meta for n in gm.graph.nodes)


def _fx_extractor(gm: torch.fx.GraphModule, layer: str) -> Callable:
    """A copy of the exported graph that returns the output of module ``layer`` (the last node it made)."""
    last = None
    for node in gm.graph.nodes:
        stack = node.meta.get("nn_module_stack") or {}
        if node.op == "call_function" and any(p == layer or p.startswith(layer + ".") for p, _ in stack.values()):
            last = node
    if last is None:
        paths = sorted({p for n in gm.graph.nodes for p, _ in (n.meta.get("nn_module_stack") or {}).values() if p})
        raise VistransferError(f"--features-layer {layer!r} is not a module of this model (an exported graph); its modules include {paths[:12]}")
    graph = torch.fx.Graph()
    env: dict = {}
    for node in gm.graph.nodes:
        if node.op == "output":
            break
        env[node] = graph.node_copy(node, lambda n: env[n])
        if node is last:
            break
    graph.output(env[last])
    sub = torch.fx.GraphModule(gm, graph)
    return lambda x: sub(x)
