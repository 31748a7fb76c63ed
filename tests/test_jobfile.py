"""Job files and light-curve files: what they accept, and one clear error per mistake."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mpicg.cli import main
from mpicg.cli.datafile import read_light_curve
from mpicg.cli.jobfile import load_job
from mpicg.cli.jobmodel import make_model
from mpicg.errors import InputError

GOOD = """\
[model]
name = "eclipsing_binary"
options = { resolution = 8 }

[data]
file = "lc.csv"
columns = ["time", "flux", "sigma"]

[parameters]
incl = 87.0
period = 2.5

[fit]
parameters = ["incl", "r1"]
gtol = 0.5
maxiter = 3

[steps]
incl = 1e-4
r1 = { size = 1e-5, kind = "relative" }

[priors]
incl = { kind = "uniform", low = 70.0, high = 90.0 }
r1 = [{ kind = "gaussian", mu = 0.1, sigma = 0.05 }, { kind = "uniform", low = 0.0, high = 1.0 }]

[output]
directory = "out"
progress_every_niters = 2
"""


def _write_curve(path, n=40):
    t = np.linspace(0.0, 2.5, n)
    table = np.column_stack([t, 1.0 + 0.001 * np.sin(t), np.full(n, 1e-3)])
    np.savetxt(path, table, delimiter=",", header="time,flux,sigma", comments="")
    return table


@pytest.fixture
def job_dir(tmp_path):
    _write_curve(tmp_path / "lc.csv")
    (tmp_path / "job.toml").write_text(GOOD)
    return tmp_path


def _with(job_dir, old: str, new: str):
    text = GOOD.replace(old, new)
    assert text != GOOD, f"{old!r} is not in the job"
    (job_dir / "job.toml").write_text(text)
    return job_dir / "job.toml"


def _line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_a_good_job_file_is_read_with_its_paths_resolved(job_dir):
    job = load_job(job_dir / "job.toml")
    assert job.model == "eclipsing_binary"
    assert job.model_options == {"resolution": 8}
    assert job.data_file == str(job_dir / "lc.csv")
    assert job.output == str(job_dir / "out")
    assert job.fit_parameters == ["incl", "r1"]
    assert job.values == {"incl": 87.0, "period": 2.5}
    assert job.options == {"gtol": 0.5, "maxiter": 3}
    assert job.steps == {"incl": {"size": 1e-4, "kind": "absolute"},
                         "r1": {"size": 1e-5, "kind": "relative"}}
    assert len(job.priors["r1"]) == 2
    assert job.progress_every_niters == 2
    assert make_model(job).resolution == 8


def test_sharing_goes_to_the_fit(job_dir):
    job = load_job(_with(job_dir, "gtol = 0.5", 'gtol = 0.5\nsharing = "points"'))
    assert job.options == {"gtol": 0.5, "maxiter": 3, "sharing": "points"}


def test_defaults_of_optional_tables(tmp_path):
    _write_curve(tmp_path / "lc.csv")
    (tmp_path / "mine.toml").write_text(textwrap.dedent("""\
        [model]
        name = "transit"
        [data]
        file = "lc.csv"
        [fit]
        parameters = ["rp"]
    """))
    job = load_job(tmp_path / "mine.toml")
    assert job.columns == ["time", "flux", "sigma"]
    assert job.output == str(tmp_path / "mine-out")
    assert job.progress_every_niters == 1
    assert job.options == {}
    assert job.steps == {}
    assert job.priors == {}


@pytest.mark.parametrize(("old", "new", "fragment", "expected"), [
    # an unknown key
    ("gtol = 0.5", "gtol = 0.5\ntolerance = 1", "tolerance =", "[fit] tolerance: unknown key"),
    ("[output]", "[outputs]", "[outputs]", "[outputs]: unknown table"),
    # a value of the wrong type
    ("gtol = 0.5", 'gtol = "small"', "gtol =", "[fit] gtol: must be a number >= 0; got 'small'"),
    ("maxiter = 3", "maxiter = 2.5", "maxiter =", "[fit] maxiter: must be an integer >= 1"),
    ("gtol = 0.5", 'gtol = 0.5\nsharing = "rows"', "sharing =",
     "[fit] sharing: must be one of ['auto', 'blocks', 'points']; got 'rows'"),
    # values that are only wrong together: the library's own check, located
    ("gtol = 0.5", "gtol = 0.5\nc1 = 0.5\nc2 = 0.4", "c1 =",
     "[fit] c1: `c1` and `c2` must satisfy 0 < c1 < c2 < 1; got c1=0.5, c2=0.4"),
    ("gtol = 0.5", "gtol = 0.5\nc2 = 1e-5", "c2 =",
     "[fit] c2: `c1` and `c2` must satisfy 0 < c1 < c2 < 1; got c1=0.0001, c2=1e-05"),
    ("incl = 87.0", 'incl = "87"', 'incl = "87"', "[parameters] incl: must be a finite number"),
    ('parameters = ["incl", "r1"]', 'parameters = "incl"', 'parameters = "incl"',
     "[fit] parameters: must be a non-empty list"),
    ("progress_every_niters = 2", "progress_every_niters = -1", "progress_every_niters",
     "[output] progress_every_niters: must be an integer >= 0"),
    ('r1 = { size = 1e-5, kind = "relative" }', 'r1 = { size = 1e-5, kind = "percent" }',
     "r1 = { size", "[steps] r1: kind must be 'absolute' or 'relative'"),
    ("options = { resolution = 8 }", "options = 8", "options = 8",
     "[model] options: must be a table"),
    # a misspelt required key is reported as unknown (before it is missed)
    ('file = "lc.csv"', 'path = "lc.csv"', 'path = "lc.csv"', "[data] path: unknown key"),
    # scaling and uncertainties: the library's checks, located
    ("gtol = 0.5", 'gtol = 0.5\nscale = "sigma"', "scale =",
     "[fit] scale: must be 'auto', 'none' or a number > 0; got 'sigma'"),
    ("gtol = 0.5", "gtol = 0.5\nscale = 0", "scale =",
     "[fit] scale: must be 'auto', 'none' or a number > 0; got 0"),
    ("gtol = 0.5", "gtol = 0.5\nuncertainties = 1", "uncertainties =",
     "[fit] uncertainties: must be true or false; got 1"),
    ("[priors]", "[scales]\nincl = -1.0\n\n[priors]", "incl = -1.0",
     "[scales] incl: must be 'auto', 'none' or a number > 0; got -1.0"),
    ("[priors]", '[scales]\nr1 = "tiny"\n\n[priors]', 'r1 = "tiny"',
     "[scales] r1: must be 'auto', 'none' or a number > 0; got 'tiny'"),
])
def test_each_mistake_names_the_key_and_its_line(job_dir, old, new, fragment, expected):
    path = _with(job_dir, old, new)
    with pytest.raises(InputError) as err:
        load_job(path)
    line = _line_of(path.read_text(), fragment)
    assert str(err.value).startswith(f"{path}, line {line}: ")
    assert expected in str(err.value)


def test_scales_and_uncertainties_reach_the_fit(job_dir):
    path = _with(job_dir, "gtol = 0.5", 'gtol = 0.5\nscale = 1e-3\nuncertainties = false')
    path.write_text(path.read_text().replace("[priors]", '[scales]\nincl = "none"\n\n'
                                                         "[priors]"))
    job = load_job(path)
    assert job.options == {"gtol": 0.5, "maxiter": 3, "scale": 1e-3, "uncertainties": False}
    assert job.scales == {"incl": "none"}
    assert main(["fit", str(path)]) in (0, 4)  # three iterations: converged or not
    solution = json.loads((job_dir / "out" / "solution.json").read_text())
    assert solution["options"]["scale"] == {"incl": "none", "r1": 1e-3}
    assert solution["scale_sources"] == {"incl": "none", "r1": "given"}
    assert solution["scales"] == {"incl": 1.0, "r1": 1e-3}
    assert solution["uncertainties"] is None
    assert solution["nfev_uncertainties"] == 0


def test_a_missing_required_key_is_named(job_dir):
    path = _with(job_dir, 'name = "eclipsing_binary"\n', "")
    line = _line_of(path.read_text(), "[model]")
    with pytest.raises(InputError, match=rf"line {line}: \[model\] name: is missing "
                                         r"\(required\)"):
        load_job(path)
    path = _with(job_dir, "[fit]\n", "")
    with pytest.raises(InputError, match=r"job.toml: the table \[fit\] is missing"):
        load_job(path)


def test_bad_toml_says_where(job_dir):
    path = _with(job_dir, "gtol = 0.5", "gtol = = 0.5")
    line = _line_of(path.read_text(), "gtol = =")
    with pytest.raises(InputError, match=rf"not valid TOML: .*at line {line}, column 8"):
        load_job(path)


def test_a_missing_job_file(tmp_path):
    with pytest.raises(InputError, match=r"job file .*nope.toml' does not exist"):
        load_job(tmp_path / "nope.toml")


@pytest.mark.parametrize(("old", "new", "fragment", "expected"), [
    ('parameters = ["incl", "r1"]', 'parameters = ["incl", "radius"]', "parameters = [",
     "[fit] parameters: 'radius' is not a parameter of the model"),
    ("incl = 87.0", "inclination = 87.0", "inclination =",
     "[parameters] inclination: 'inclination' is not a parameter of the model"),
    ('name = "eclipsing_binary"', 'name = "binary"', 'name = "binary"',
     "[model] name: 'binary' is not a built-in model"),
    ('name = "eclipsing_binary"', 'name = "no_such_module:Model"', "name =",
     "[model] name: cannot import 'no_such_module'"),
    ("options = { resolution = 8 }", "options = { resolution = 0 }", "options =",
     "[model] options: 'eclipsing_binary' rejects the options"),
    ("[priors]", "[scales]\nradius = 0.1\n\n[priors]", "radius = 0.1",
     "[scales] radius: 'radius' is not a parameter of the model"),
])
def test_model_mistakes_name_the_key_and_its_line(job_dir, old, new, fragment, expected):
    path = _with(job_dir, old, new)
    job = load_job(path)
    with pytest.raises(InputError) as err:
        make_model(job)
    line = _line_of(path.read_text(), fragment)
    assert str(err.value).startswith(f"{path}, line {line}: "), str(err.value)
    assert expected in str(err.value)


def _cli_error(capsys, path) -> str:
    assert main(["fit", str(path)]) == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert len(errors) == 1, captured.err
    return errors[0]


def test_cli_missing_data_file(job_dir, capsys):
    path = _with(job_dir, 'file = "lc.csv"', 'file = "missing.csv"')
    line = _line_of(path.read_text(), 'file = "missing.csv"')
    message = _cli_error(capsys, path)
    assert f"line {line}: [data] file: data file" in message
    assert "missing.csv' does not exist" in message


def test_cli_data_file_that_is_a_directory(job_dir, capsys):
    # (it was said not to exist)
    (job_dir / "lc_dir").mkdir()
    path = _with(job_dir, 'file = "lc.csv"', 'file = "lc_dir"')
    message = _cli_error(capsys, path)
    assert "[data] file: data file" in message
    assert "lc_dir' is a directory, not a file" in message
    path = _with(job_dir, 'file = "lc.csv"', 'file = "/dev/null"')
    assert "'/dev/null' is not a regular file (a device or a pipe)" in _cli_error(capsys, path)


def test_cli_a_column_named_twice(job_dir, capsys):
    # (the times were fitted as fluxes, and the fit ended "not converged")
    path = _with(job_dir, 'columns = ["time", "flux", "sigma"]',
                 'columns = ["time", "time", "sigma"]')
    line = _line_of(path.read_text(), "columns =")
    message = _cli_error(capsys, path)
    assert f"line {line}: [data] columns: names a column twice" in message
    assert "['time', 'time', 'sigma']" in message


@pytest.mark.parametrize("columns", ['["time", 0, "sigma"]', '["time", "TIME", "sigma"]'],
                         ids=["name-and-its-index", "names-in-two-cases"])
def test_cli_a_column_named_twice_in_other_words(job_dir, capsys, columns):
    # (found only once the names are matched to the file's columns)
    path = _with(job_dir, 'columns = ["time", "flux", "sigma"]', f"columns = {columns}")
    message = _cli_error(capsys, path)
    assert "name the same column of lc.csv twice" in message


def test_cli_a_column_name_that_matches_several_in_other_cases(job_dir, capsys):
    # (it took the first, and then said two columns named one twice)
    table = np.loadtxt(job_dir / "lc.csv", delimiter=",", skiprows=1)
    np.savetxt(job_dir / "lc.csv", np.column_stack([table, table[:, 1]]), delimiter=",",
               header="time,flux,sigma,FLUX", comments="")
    path = _with(job_dir, 'columns = ["time", "flux", "sigma"]', 'columns = [0, "Flux", 2]')
    message = _cli_error(capsys, path)
    assert ("'Flux' matches several columns of lc.csv in other cases (['flux', 'FLUX']): "
            "give one's exact name") in message


def test_cli_bad_column(job_dir, capsys):
    path = _with(job_dir, 'columns = ["time", "flux", "sigma"]',
                 'columns = ["time", "flux", "flux_err"]')
    line = _line_of(path.read_text(), "columns =")
    message = _cli_error(capsys, path)
    assert f"line {line}: [data] columns: 'flux_err' is not a column of lc.csv" in message
    assert "['time', 'flux', 'sigma']" in message


def test_cli_unknown_key_and_wrong_type(job_dir, capsys):
    message = _cli_error(capsys, _with(job_dir, "maxiter = 3", "maxiter = 3\nmax_iter = 3"))
    assert "[fit] max_iter: unknown key" in message
    message = _cli_error(capsys, _with(job_dir, "gtol = 0.5", "gtol = [0.5]"))
    assert "[fit] gtol: must be a number >= 0; got [0.5]" in message
    # (a ZeroDivisionError after the first gradient, and an output directory left behind)
    message = _cli_error(capsys, _with(job_dir, "gtol = 0.5", "gtol = 0.5\nnorm = 0"))
    assert "[fit] norm: must be a non-zero number (an order such as 2 or inf); got 0" in message


def test_cli_bad_prior(job_dir, capsys):
    path = _with(job_dir, 'incl = { kind = "uniform", low = 70.0, high = 90.0 }',
                 'incl = { kind = "uniform", low = 90.0, high = 70.0 }')
    message = _cli_error(capsys, path)
    line = _line_of(path.read_text(), 'incl = { kind = "uniform"')
    assert f"line {line}: [priors] incl:" in message


def test_a_model_from_the_job_directory(tmp_path):
    _write_curve(tmp_path / "lc.csv")
    (tmp_path / "mymodels.py").write_text(textwrap.dedent("""\
        import numpy as np
        from mpicg import Parameter, ParameterizedModel

        class Line(ParameterizedModel):
            parameters = (Parameter("a", 1.0), Parameter("b", 0.0))

            def __call__(self, values, times):
                return values[0] + values[1] * times

        def make_line() -> Line:
            return Line()

        def unannotated():
            return Line()

        CALLED = []

        def not_a_model():
            CALLED.append(1)
            return Line()
    """))
    (tmp_path / "job.toml").write_text(textwrap.dedent("""\
        [model]
        name = "mymodels:make_line"
        [data]
        file = "lc.csv"
        [fit]
        parameters = ["a", "b"]
    """))
    model = make_model(load_job(tmp_path / "job.toml"))
    assert model.parameter_names == ("a", "b")


@pytest.mark.parametrize(("name", "kind"), [("os:system", "builtin_function_or_method"),
                                            ("mymodels:unannotated", "function"),
                                            ("mymodels:not_a_model", "function"),
                                            ("mymodels:CALLED", "list")])
def test_a_model_target_that_is_not_a_model_is_refused_uncalled(tmp_path, name, kind):
    test_a_model_from_the_job_directory(tmp_path)  # writes mymodels.py, lc.csv, job.toml
    job = tmp_path / "job.toml"
    job.write_text(job.read_text().replace('"mymodels:make_line"', f'"{name}"'))
    with pytest.raises(InputError, match=rf"\[model\] name: '{name}' is a {kind}, not an "
                                         r"mpicg.ParameterizedModel class.*not called"):
        make_model(load_job(job))
    import mymodels  # the job's directory is on sys.path now

    assert mymodels.CALLED == []


# ---- light-curve files ---------------------------------------------------------------------

def test_csv_with_a_header_and_columns_by_name(tmp_path):
    table = _write_curve(tmp_path / "lc.csv")
    t, f, s = read_light_curve(tmp_path / "lc.csv", ["time", "flux", "sigma"])
    np.testing.assert_array_equal(np.column_stack([t, f, s]), table)


def test_whitespace_text_with_a_comment_header_and_a_constant_sigma(tmp_path):
    path = tmp_path / "lc.dat"
    path.write_text("# a light curve\n# BJD  FLUX\n1.0 0.99\n2.0 1.01  # a comment\n\n3.0 1.0\n")
    t, f, s = read_light_curve(path, ["BJD", "FLUX"], sigma=0.01)
    np.testing.assert_array_equal(t, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(f, [0.99, 1.01, 1.0])
    np.testing.assert_array_equal(s, [0.01] * 3)
    t2, _, _ = read_light_curve(path, [0, 1], sigma=0.01)
    np.testing.assert_array_equal(t2, t)


def test_a_bad_row_names_its_line(tmp_path):
    path = tmp_path / "lc.txt"
    path.write_text("1 2 3\n4 5 6\n7 x 9\n")
    with pytest.raises(InputError, match=r"lc.txt, line 3: not a row of numbers"):
        read_light_curve(path, [0, 1, 2])


@pytest.mark.parametrize(("text", "match"), [
    ("time,flux,sigma\n1,2,3\n4,5,6\n7,8\n",
     r"lc.csv, line 4: 2 columns where the rows above have 3: '7,8'"),
    ("time,flux,sigma\n1,2,0.1\n4,5,0.1\n7,8,0\n9,9,-1\n",
     r"lc.csv, line 4: sigma must be > 0; got 0.0 \(2 rows with sigma <= 0\)"),
], ids=["short-row", "zero-sigma"])
def test_a_bad_row_of_a_csv_names_its_line(tmp_path, text, match):
    path = tmp_path / "lc.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        read_light_curve(path, ["time", "flux", "sigma"])


def test_a_spreadsheets_csv_with_a_byte_order_mark_and_crlf(tmp_path):
    table = _write_curve(tmp_path / "plain.csv")
    text = (tmp_path / "plain.csv").read_text()
    (tmp_path / "lc.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    t, f, s = read_light_curve(tmp_path / "lc.csv", ["time", "flux", "sigma"])
    np.testing.assert_array_equal(np.column_stack([t, f, s]), table)


def test_npy_by_index_and_structured_by_name(tmp_path):
    table = np.array([[0.0, 1.0, 0.1], [1.0, 0.9, 0.1]])
    np.save(tmp_path / "a.npy", table)
    t, f, s = read_light_curve(tmp_path / "a.npy", [0, 1, 2])
    np.testing.assert_array_equal(f, [1.0, 0.9])
    with pytest.raises(InputError, match=r"a\.npy has no column names; give the columns as "
                                         r"indices"):
        read_light_curve(tmp_path / "a.npy", ["time", "flux", "sigma"])
    with pytest.raises(InputError, match=r"column index 5 is out of range: a\.npy has 3"):
        read_light_curve(tmp_path / "a.npy", [0, 1, 5])
    structured = np.array([(0.0, 1.0, 0.1)], dtype=[("t", float), ("f", float), ("e", float)])
    np.save(tmp_path / "b.npy", structured)
    t, f, s = read_light_curve(tmp_path / "b.npy", ["t", "f", "e"])
    assert (t[0], f[0], s[0]) == (0.0, 1.0, 0.1)


def test_npz_by_key(tmp_path):
    np.savez(tmp_path / "c.npz", time=[0.0, 1.0], flux=[1.0, 0.5], err=[0.1, 0.2])
    _t, _f, s = read_light_curve(tmp_path / "c.npz", ["time", "flux", "err"])
    np.testing.assert_array_equal(s, [0.1, 0.2])
    with pytest.raises(InputError, match=r"'sigma' is not a column of c.npz; its columns are "
                                         r"\['time', 'flux', 'err'\]"):
        read_light_curve(tmp_path / "c.npz", ["time", "flux", "sigma"])


def test_fits_table_with_gaps(tmp_path):
    fits = pytest.importorskip("astropy.io.fits")
    cols = [fits.Column(name="TIME", format="D", array=[0.0, 1.0, np.nan, 3.0]),
            fits.Column(name="PDCSAP_FLUX", format="D", array=[1.0, 0.9, 1.0, 1.1]),
            fits.Column(name="PDCSAP_FLUX_ERR", format="D", array=[0.1, 0.1, 0.1, 0.1])]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(
        tmp_path / "k.fits")
    with pytest.warns(UserWarning, match="dropped 1 of 4 rows"):
        t, f, _s = read_light_curve(tmp_path / "k.fits",
                                   ["time", "pdcsap_flux", "PDCSAP_FLUX_ERR"])
    np.testing.assert_array_equal(t, [0.0, 1.0, 3.0])
    np.testing.assert_array_equal(f, [1.0, 0.9, 1.1])


def test_a_missing_file_and_an_empty_one(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_light_curve(tmp_path / "none.csv", [0, 1, 2])
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(InputError, match="holds no rows of numbers"):
        read_light_curve(tmp_path / "empty.txt", [0, 1, 2])


@pytest.mark.parametrize(("edit", "where"), [
    (('parameters = ["incl", "r1", "r2", "sbratio"]',
      'parameters = ["incl", "r1", "r1", "sbratio"]'), r"line 25: \[fit\] parameters: "),
    (("r1 = 0.11", "r1 = -0.11"), r"line 16: \[parameters\] r1: start value -0.11"),
    (("[output]", '[priors]\nperiod = { kind = "uniform", low = 2, high = 3 }\n\n[output]'),
     r"line \d+: \[priors\]: `priors` are given on \['period'\]"),
    (("[output]", "[steps]\nperiod = 1e-4\n\n[output]"),
     r"line \d+: \[steps\]: `steps` names \['period'\]"),
])
def test_a_named_fit_error_names_the_job_files_key_and_line(tmp_path, edit, where):
    # Checks made once the model and the data exist said neither file nor line.
    from mpicg.cli.demo import write_demo_job
    from mpicg.cli.fit import check_job

    job_file = write_demo_job(tmp_path, n_times=50)
    text = job_file.read_text()
    assert edit[0] in text
    job_file.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(InputError, match=rf"job.toml, {where}"):
        check_job(load_job(job_file))


def test_cli_warns_once_and_in_its_own_words(job_dir):
    # A start on an edge (the prior's upper bound, 90): the job's checks and the fit each
    # warned, as Python's "path:line: UserWarning: ..." with mpicg's own file.
    path = _with(job_dir, "incl = 87.0", "incl = 90.0")
    done = subprocess.run([sys.executable, "-m", "mpicg", "fit", str(path)], cwd=job_dir,
                          capture_output=True, text=True, timeout=120)
    warned = [line for line in done.stderr.splitlines()
              if "incl starts on the upper edge" in line]
    assert len(warned) == 1, done.stderr
    assert warned[0].startswith("mpicg fit: warning: incl starts on the upper edge of its ")
