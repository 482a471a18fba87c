import subprocess
import sys
import textwrap

import torch

from latent_core._compat import torchvision_ops


def test_torchvision_and_its_dependents_import():
    state = torchvision_ops.ensure_torchvision_importable()
    assert state in {"native", "patched", "already-imported", "absent"}
    import open_clip  # noqa: F401
    import sentence_transformers  # noqa: F401
    import torchvision.transforms  # noqa: F401


def test_reference_nms_matches_hand_computed_case():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], dtype=torch.float)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    # box 3 (0.95) wins; box 0 overlaps it with IoU 90/100 = 0.9 > 0.5 and box 1 overlaps box 3 with
    # IoU 72/(90+100-72) = 0.61 > 0.5; box 2 is disjoint.
    assert torchvision_ops._nms_reference(boxes, scores, 0.5).tolist() == [3, 2]
    assert torchvision_ops._nms_reference(boxes, scores, 0.95).tolist() == [3, 0, 1, 2]
    assert torchvision_ops._nms_reference(boxes[:0], scores[:0], 0.5).numel() == 0


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def test_fresh_process_is_patched_or_native_and_imports_work():
    out = _run("""
        from latent_core._compat.torchvision_ops import ensure_torchvision_importable
        state = ensure_torchvision_importable()
        assert ensure_torchvision_importable() == state  # idempotent
        import torchvision, torch
        print(state)
    """)
    assert out in {"native", "patched"}


def test_does_nothing_when_the_compiled_library_loads():
    # Simulate a matching install (as on a GPU machine): load_library succeeds, so no schema is defined here.
    out = _run("""
        import torch
        torch.ops.load_library = lambda path: None
        from latent_core._compat import torchvision_ops
        print(torchvision_ops.ensure_torchvision_importable(), torchvision_ops._LIBRARY is None)
    """)
    assert out == "native True"


def test_importing_latent_core_patches_nothing():
    out = _run("""
        import sys
        import latent_core, latent_core.encoders, latent_core.data
        from latent_core._compat import torchvision_ops
        print(torchvision_ops._STATE, 'torchvision' in sys.modules, 'sentence_transformers' in sys.modules)
    """)
    assert out == "None False False"
