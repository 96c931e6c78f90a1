"""Every notebook runs end to end (BNSL_FAST=1: small sampler) in a kernel of this environment.

The committed notebooks carry the outputs of the full setting; here only the code is checked,
so a notebook cannot silently rot when the API changes.
"""

import os
import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def execute(path: Path, fast: bool = True, timeout: int = 1200):
    """Run a notebook in a fresh kernel; returns the executed notebook (raises on a failing cell)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    # Tests need no pictures (Agg draws nothing into the notebook); the committed full runs are read
    # as reports, so their figures are kept as PNG outputs (the inline backend).
    backend = "Agg" if fast else "module://matplotlib_inline.backend_inline"
    env = {"BNSL_FAST": "1" if fast else "0", "MPLBACKEND": backend}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        # kernel "python3" with argv[0] "python" is started with sys.executable, i.e. this venv.
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_errors(path):
    nb = execute(path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors[0].get("ename")
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_committed_notebooks_have_outputs():
    """The notebooks are committed executed, so they read as reports on GitHub without running them."""
    import nbformat

    assert {p.stem for p in NOTEBOOKS} >= {"quickstart", "honest_extrapolation", "chinchilla"}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.get("execution_count") for c in code), f"{path.name} has unexecuted cells"
        # A cell that draws must show its figure: a report without its plots is not one.
        for c in code:
            if "plots.plot_" in c.source or "plt.subplots" in c.source:
                kinds = {k for o in c.get("outputs", []) for k in o.get("data", {})}
                assert "image/png" in kinds, f"{path.name}: a plotting cell has no figure in its outputs"


if __name__ == "__main__":  # python tests/test_notebooks.py NOTEBOOK...: execute in full and write outputs
    import nbformat

    for arg in sys.argv[1:]:
        nbformat.write(execute(Path(arg), fast=False, timeout=3600), arg)
        print("executed", arg)
