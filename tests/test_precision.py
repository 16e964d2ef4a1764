"""--precision auto: bf16 on a CPU that computes bf16 natively (AMX or AVX512-BF16), fp32 on other CPUs; the
environment variable DNABERT2_PRECISION overrides what auto means (the suite pins it to fp32 in conftest.py)."""
import numpy as np
import pytest
import torch

from dnabert2.common import runtime
from dnabert2.errors import InputError

CPU = torch.device("cpu")


def cpuinfo(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: some CPU\nflags\t\t: fpu sse2 {flags}\n\nprocessor\t: 1\n")
    return str(path)


@pytest.mark.parametrize("flags, native", [
    ("avx2 avx512f avx512_bf16 avx512_vnni", True),  # AMD Zen 4, Intel Cooper Lake
    ("avx2 avx512f amx_bf16 amx_tile amx_int8", True),  # Intel Sapphire Rapids
    ("avx2 fma f16c", False),  # AVX2 only: bf16 is emulated
    ("avx2 avx512f avx512bw", False),  # AVX-512 without its bf16 extension
])
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    assert runtime.cpu_has_native_bf16(cpuinfo(tmp_path, flags)) is native


def test_no_cpuinfo_means_fp32(tmp_path):
    assert runtime.cpu_has_native_bf16(str(tmp_path / "absent")) is False


@pytest.mark.parametrize("native, dtype", [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_on_cpu_follows_the_hardware(monkeypatch, native, dtype):
    monkeypatch.delenv("DNABERT2_PRECISION")
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
    assert runtime.resolve_dtype("auto", CPU) == dtype
    assert runtime.resolve_dtype("fp32", CPU) == torch.float32  # forcing either way
    assert runtime.resolve_dtype("bf16", CPU) == torch.bfloat16


def test_environment_sets_what_auto_means(monkeypatch):
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setenv("DNABERT2_PRECISION", "fp32")
    assert runtime.resolve_dtype("auto", CPU) == torch.float32
    assert runtime.resolve_dtype("bf16", CPU) == torch.bfloat16  # an explicit --precision wins
    monkeypatch.setenv("DNABERT2_PRECISION", "half")
    with pytest.raises(InputError, match="DNABERT2_PRECISION=half: expected one of fp32, bf16, fp16"):
        runtime.resolve_dtype("auto", CPU)


def test_embed_summary_names_the_precision_auto_chose(tmp_path, monkeypatch, run_cli, tiny_model_dir):
    """On a CPU with native bf16, auto runs in bf16: the summary and the file say so, vectors near fp32's."""
    import h5py

    fasta = tmp_path / "x.fa"
    fasta.write_text(">a\nACGTAGCATCGGATCTATCTATCGACACTTGGTTATCGATCTACGAGCATCTCG\n>b\nTTGACCAGTAGGCTTACCGATTAG\n")
    monkeypatch.delenv("DNABERT2_PRECISION")
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    auto = run_cli("embed", "--fasta", fasta, "--model", tiny_model_dir, "-o", tmp_path / "auto.h5")
    assert auto.exit_code == 0, auto.output
    assert "on cpu (bf16)" in auto.output
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    fp32 = run_cli("embed", "--fasta", fasta, "--model", tiny_model_dir, "-o", tmp_path / "fp32.h5")
    assert "on cpu (fp32)" in fp32.output
    with h5py.File(tmp_path / "auto.h5", "r") as a, h5py.File(tmp_path / "fp32.h5", "r") as b:
        assert a.attrs["precision"] == "bf16" and b.attrs["precision"] == "fp32"
        low, full = a["embeddings"][:], b["embeddings"][:]
    assert not np.array_equal(low, full)
    np.testing.assert_allclose(low, full, atol=0.1)  # bf16 keeps about 3 significant digits
