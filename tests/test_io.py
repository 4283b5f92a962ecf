"""Model files: round trips, the schema checks, atomic saves, and fuzzing of load."""

import base64
import functools
import io
import json
import os
import sys
import tempfile
import tracemalloc
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import run_isolated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastem
from fastem import _io
from fastem.exceptions import ModelFileError
from fastem.mixture import ConjugatePrior

META = "__fastem_metadata__.npy"
# fixed examples in the test suite, random ones in long runs (scripts/fuzz.py)
FUZZ = settings(max_examples=int(os.environ.get("FASTEM_FUZZ_EXAMPLES", "25")),
                derandomize="FASTEM_FUZZ_EXAMPLES" not in os.environ,
                deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _data(n=80, d=3, seed=0):
    rng = np.random.RandomState(seed)
    return np.vstack([rng.randn(n // 2, d), rng.randn(n - n // 2, d) + 3])


def _symbols(n=120, seed=0):
    return np.random.RandomState(seed).randint(0, 4, size=(n, 1))


K = 2
MAKERS = {
    **{f"gm-{ct}": lambda ct=ct: fastem.GaussianMixture(K, covariance_type=ct,
                                                         random_state=0).fit(_data())
       for ct in ("full", "tied", "diag", "spherical")},
    "gm-missing": lambda: fastem.GaussianMixture(K, covariance_type="full", random_state=0)
    .fit(np.where(np.arange(80)[:, None] % 5 == np.arange(3), np.nan, _data())),
    "gm-given": lambda: fastem.GaussianMixture(
        K, means_init=_data()[[0, 79]], weights_init=[0.4, 0.6],
        precisions_init=np.stack([np.eye(3)] * K), random_state=0).fit(_data()),
    "gm-prior": lambda: fastem.GaussianMixture(
        K, covariance_type="diag", random_state=0,
        prior=ConjugatePrior(shrinkage=0.5, mean=np.zeros(3), weights_concentration=2.0))
    .fit(_data()),
    "gm-default-prior": lambda: fastem.GaussianMixture(K, prior="default", random_state=0)
    .fit(_data()),
    "kmeans": lambda: fastem.KMeans(K, random_state=0).fit(_data()),
    "kmeans-init": lambda: fastem.KMeans(K, init=_data()[[0, 79]]).fit(_data()),
    **{f"hmm-{ct}": lambda ct=ct: fastem.GaussianHMM(K, covariance_type=ct, n_iter=3,
                                                     random_state=0).fit(_data())
       for ct in ("full", "tied", "diag", "spherical")},
    "hmm-priors": lambda: fastem.GaussianHMM(
        K, covariance_type="diag", n_iter=2, random_state=0, startprob_prior=np.full(K, 2.0),
        means_prior=np.zeros((K, 3)), means_weight=np.full(K, 0.5)).fit(_data()),
    "categorical": lambda: fastem.CategoricalHMM(K, n_iter=3, random_state=0).fit(_symbols()),
}


def _with_names():
    model = fastem.GaussianMixture(K, random_state=0).fit(_data())
    model.feature_names_in_ = np.array(["a", "b", "c"])
    return model


MAKERS["gm-names"] = _with_names


@functools.cache
def fitted(kind):
    return MAKERS[kind]()


@functools.cache
def file_bytes(kind):
    with tempfile.TemporaryDirectory() as folder:
        return fitted(kind).save(Path(folder) / "model.npz").read_bytes()


def members(kind):
    """{zip member name: its .npy bytes} of a freshly saved model."""
    with zipfile.ZipFile(io.BytesIO(file_bytes(kind))) as z:
        return {name: z.read(name) for name in z.namelist()}


def npy(arr, **kw):
    buf = io.BytesIO()
    np.save(buf, arr, **kw)
    return buf.getvalue()


def meta_of(parts):
    return json.loads(np.load(io.BytesIO(parts[META])).tobytes())


def with_meta(parts, meta):
    return {**parts, META: npy(np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))}


def write(path, parts, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


def edited(path, kind, meta=None, **arrays):
    """A model file of ``kind`` with metadata edited by ``meta(m)`` and members replaced
    (name=array) or removed (name=None); names are given without 'attr:'."""
    parts = members(kind)
    if meta is not None:
        m = meta_of(parts)
        meta(m)
        parts = with_meta(parts, m)
    for name, arr in arrays.items():
        key = f"{name.replace('__', ':')}.npy" if "__" in name else f"attr:{name}.npy"
        if arr is None:
            del parts[key]
        else:
            parts[key] = npy(arr)
    return write(path, parts)


def refused(path, *words):
    with pytest.raises(ModelFileError) as info:
        fastem.load(path)
    message = str(info.value)
    assert str(path) in message and all(w in message for w in words), message
    return message


# -- round trips ------------------------------------------------------------------------
def _outputs(model, kind):
    if kind == "categorical":
        X = _symbols(50, seed=1)
    else:
        X = _data(50, seed=1)
    if kind.startswith("gm"):
        Xm = X.copy()
        Xm[::4, 1] = np.nan
        return [f(Z) for Z in (X, Xm, X.astype(np.float32)) for f in
                (model.predict, model.predict_proba, model.score_samples)]
    if kind.startswith("kmeans"):
        return [model.predict(X), model.transform(X), model.score(X)]
    return [model.predict(X), model.predict_proba(X), model.score(X),
            model.decode(X, algorithm="map")[1], model.predict(X, lengths=[20, 30])]


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_round_trip_gives_the_same_model(kind, tmp_path):
    model = fitted(kind)
    before = {k: np.copy(v) for k, v in vars(model).items() if isinstance(v, np.ndarray)}
    path = model.save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == ["model.npz"]            # no temporary file left
    for name, value in before.items():                    # the model is not modified
        np.testing.assert_array_equal(getattr(model, name), value)
    back = fastem.load(path)
    assert type(back) is type(model)
    for name, value in model.get_params().items():
        np.testing.assert_array_equal(getattr(back, name), value)
    saved = {k for k in vars(model) if k.endswith("_")}
    assert saved == {k for k in vars(back) if k.endswith("_")}
    for name in saved - {"monitor_"}:
        got, want = getattr(back, name), getattr(model, name)
        np.testing.assert_array_equal(got, want)
        assert type(got) is type(want) or isinstance(want, np.ndarray)
    if "monitor_" in saved:
        assert list(back.monitor_.history) == list(model.monitor_.history)
        assert back.monitor_.iter == model.monitor_.iter
    for got, want in zip(_outputs(back, kind), _outputs(model, kind)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_the_schema_covers_everything_a_fitted_model_holds(kind):
    model = fitted(kind)
    schema = _io.SCHEMAS[type(model).__name__]
    fitted_state = {k for k in vars(model) if k.endswith("_")}
    covered = set(schema.attributes) | {m.partition(":")[2] for m in schema.arrays}
    assert fitted_state <= covered
    assert set(model.get_params()) == set(schema.params)
    with zipfile.ZipFile(io.BytesIO(file_bytes(kind))) as z:
        names = {n.removesuffix(".npy") for n in z.namelist()} - {META[:-4]}
    required = {m for m, spec in schema.arrays.items() if spec.required}
    assert required <= names <= set(schema.arrays)
    assert meta_of(members(kind))["format_version"] == _io.FORMAT_VERSION == 2


@pytest.mark.parametrize("kind", ["gm-given", "kmeans", "hmm-diag", "categorical"])
def test_version_1_files_still_load(kind, tmp_path):
    def as_version_1(m):
        m["format_version"] = 1
        del m["dims"]
        if kind == "gm-given":   # version 1 wrote flat lists as JSON
            m["params"]["weights_init"] = [0.4, 0.6]

    path = edited(tmp_path / "v1.npz", kind, as_version_1,
                  **({"param__weights_init": None} if kind == "gm-given" else {}))
    back = fastem.load(path)
    for got, want in zip(_outputs(back, kind), _outputs(fitted(kind), kind)):
        np.testing.assert_array_equal(got, want)
    if kind == "gm-given":
        np.testing.assert_array_equal(back.weights_init, [0.4, 0.6])


# written by fastem 0.1.0 (format version 1) for GaussianMixture(2, means_init=[[0, 0],
# [3, 3]], weights_init=[0.4, 0.6], random_state=0) fitted on two clusters; zlib + base64
_VERSION_1_FILE = (
    "eNrNVmtoHEUc3zyqmIqxmLRSWrjel7Nyd+77EVo2lGI/hNYTlSIhrJO7udx6e7vH7t6lITnQWJ8UCeRLUakl"
    "1A9BMFixprTkIfpFENRKlGp8tCJYK5gPTSUFdWZv5sxuY6lGpLvJDfP7P+b/+83szGR6WlpTTP3ZwWw77Az9"
    "QZ4OpoMpAxeUukoQ2J5h2qaftstDTczdzHESQdvxA4/tzzzexFSZ4UQOelk30RVL7DLVRDKWyDuu7wLbcNwc"
    "xPiDwPIgwr0CKEPUv49PxvidyVgt9q+fNibytETaTIjlgQ93vEBZbkIsge+7XYPQHCj4nkEpjhH3sRtSzN8s"
    "xfURRBQ7X5t4JgYX9OW30zPOxz/oYUoHmzc/Qim1U0r1eftnc5b/3+bsyNLOnqfPXNA/tWte78bPZvPH9HtG"
    "LjPd6sLW93ePt3aHCW474T1MCW6nBMsuzJqe6SCW2YJjQa841KA7R0Ln/iu662Pc9oQjvH5+6ie9dv+7W49c"
    "vKTTpXpxce+Xkx3N3cUnZ36NDyzp11ZamxdHv5+l9uemr76TuvZLZL5P7Tp21+oPNSrHrarClZUTX2VevaKf"
    "ffPekff6f2+0h8f3LBy1O7rHXp5of3T6qn5y+pv5jYXvZmn71qhZXN58OaJC/PmVj6gKnVSFrFMFrgnsLLx1"
    "Zfj60oQ1//lvOpxMnJupXpil7eIo2KvuOa9P7fvg2dqdP+sPHDy7+5Oj3zbal5beaH/oi+WIDLb6ok1l2IJk"
    "MIw88HxYMkrQBzngA6MhxDzZEWm7phAjFe6mhFAFYZ37WttwHI1SAn68KxavF50qOTloxZMxYjGq0MVrGnlw"
    "Seq0CoyzaS7NYv+sBTwPI/tAxfPQCthvHvIrLsS24CDDxuF4FlhWP8gWUceuWBYObKwYwx8qw6AWZMFx+NAz"
    "GsHxYrClYkMJHDJMH7q4LJZFgG1knVLZsaHtY1c+gHA4Kdw2/IILQc77a9xV3ytxJAakes4pGZ4PfFwNTu/C"
    "ASOoE6eDKVZGmO9Y2JpmWTwAkqTf8ag/6aHEqMgqsII6ET4I3CCxi4fL12c0Ts8+UkUvmxaTKK/cV0NG/FGZ"
    "/RUfEvkcG+UegDkDdX23AutE0SgY4ATUtZxB1Ot3KnbglBLSnCKImsyLkqLILK+FfTzs1Iu8JIGTREmVg1dV"
    "kziS51QOQTx6NUmuQ6ysiehP4TVFFBQlADlNUyRJ5HhF4zhBJJioaaLA8YIqsIImEJDjFBzHapKmCQRUFUlU"
    "WEVBwwmiKBFQ0FhN0FSFkzlFlAnIigqnqIiKIMpcHUOsOI3neVbgJVFUCShJMqpalgVkJUUqIi8hHqyk8hJL"
    "sZA0fYGceQjwysUzgsXha40lbNiOb3igCnNYtL5apqepOdUSvsEdJ6d8x6ob0VNN+Het+1w0A74djZGLz6ZQ"
    "hh/R73V3pWg4vonQAtpD4aebmOi95Lrq0Sk/R/bp7aHgV5qZG5/50VT4hKSpwkJMtjBrnpfRDPh0oRk6Qxmm"
    "Wpm1z5poCrwz460W/28JpTi1gfm7fTrTs+E27HQ7es8hzebuwL0/AfMWFIc="
)


def test_a_file_written_in_format_version_1_loads(tmp_path):
    path = tmp_path / "v1.npz"
    path.write_bytes(zlib.decompress(base64.b64decode(_VERSION_1_FILE)))
    with zipfile.ZipFile(path) as z:
        meta = meta_of({META: z.read(META)})
    assert meta["format_version"] == 1 and "dims" not in meta
    model = fastem.load(path)
    np.testing.assert_array_equal(model.weights_init, [0.4, 0.6])   # a JSON list in v1
    np.testing.assert_array_equal(model.means_init, [[0, 0], [3, 3]])
    X = np.array([[0.0, 0.0], [3.0, 3.0], [-1.0, 0.5], [4.0, 2.5]])
    assert model.predict(X).tolist() == [0, 1, 0, 1]
    back = fastem.load(model.save(tmp_path / "v2.npz"))
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))


def test_save_refuses_what_load_would_refuse(tmp_path):
    model = fastem.GaussianMixture(K, random_state=0).fit(_data())
    model.weights_ = model.weights_ * 2
    with pytest.raises(ValueError, match="cannot save this GaussianMixture: member "
                                         "'attr:weights_' must sum to 1"):
        model.save(tmp_path / "m.npz")
    with pytest.raises(fastem.NotFittedError, match="not fitted"):
        fastem.KMeans().save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


# -- the review's findings --------------------------------------------------------------
def test_weights_with_one_entry_and_5000_row_means_are_refused(tmp_path):
    rng = np.random.RandomState(0)
    path = edited(tmp_path / "m.npz", "gm-full", weights_=np.ones(1),
                  means_=rng.randn(5000, 3),
                  precisions_cholesky_=np.tile(np.eye(3), (5000, 1, 1)))
    refused(path, "attr:weights_", "shape (1,)", "n_components=2")
    path = edited(tmp_path / "n.npz", "gm-full", means_=rng.randn(5000, 3))
    refused(path, "attr:means_", "(5000, 3)", "expected (2, 3)")


@pytest.mark.parametrize("kind", ["gm-full", "gm-missing", "kmeans", "kmeans-init"])
def test_an_edited_n_features_in_is_refused(kind, tmp_path):
    def attribute_only(m):
        m["attributes"]["n_features_in_"] = 5000

    refused(edited(tmp_path / "a.npz", kind, attribute_only), "dims.n_features = 3",
            "n_features_in_ = 5000")

    def consistently(m):
        m["attributes"]["n_features_in_"] = m["dims"]["n_features"] = 5000

    message = refused(edited(tmp_path / "b.npz", kind, consistently), "n_features=5000")
    assert "attr:means_" in message or "attr:cluster_centers_" in message

    def as_version_1(m):   # no dims: the shapes must still agree with n_features_in_
        m["attributes"]["n_features_in_"] = 1
        m["format_version"] = 1
        del m["dims"]

    refused(edited(tmp_path / "c.npz", kind, as_version_1), "n_features=1")


@pytest.mark.parametrize("ct, shape", [("full", (1, 3, 3)), ("full", (2, 2, 2)),
                                       ("tied", (2, 2)), ("diag", (2, 1)),
                                       ("spherical", (1,))])
def test_a_too_short_precisions_cholesky_is_refused(ct, shape, tmp_path):
    short = np.ones(shape) if ct in ("diag", "spherical") else np.broadcast_to(
        np.eye(shape[-1]), shape).copy()
    refused(edited(tmp_path / "m.npz", f"gm-{ct}", precisions_cholesky_=short),
            "attr:precisions_cholesky_", f"shape {shape}")


def test_unknown_and_missing_members_are_refused(tmp_path):
    parts = {**members("kmeans"), "attr:secret_.npy": npy(np.arange(3.0))}
    refused(write(tmp_path / "u.npz", parts), "member 'attr:secret_'", "not part of")
    parts = {**members("kmeans"), "notes.txt": b"hello"}
    refused(write(tmp_path / "t.npz", parts), "notes.txt", "not a .npy member")
    refused(edited(tmp_path / "m.npz", "kmeans", labels_=None), "'attr:labels_' is missing")
    parts = members("kmeans")
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as z, pytest.warns(UserWarning):
        for name, data in [*parts.items(), ("attr:labels_.npy", parts["attr:labels_.npy"])]:
            z.writestr(name, data)
    refused(tmp_path / "d.npz", "duplicated")


def npy_header(shape, dtype):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
        "shape": shape})
    return header.getvalue()


def _zeros_member(z, name, header_shape, dtype="<f8"):
    """A deflated member whose .npy header claims ``header_shape``, with all its bytes."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    size = int(np.prod(header_shape)) * np.dtype(dtype).itemsize
    with z.open(info, "w", force_zip64=True) as f:
        f.write(npy_header(header_shape, dtype))
        chunk = bytes(1 << 22)
        for lo in range(0, size, len(chunk)):
            f.write(chunk[:size - lo])


@pytest.mark.parametrize("member", ["attr:weights_.npy", "attr:notes_.npy"])
def test_a_member_declaring_400_mb_is_refused_before_it_is_read(member, tmp_path):
    path = tmp_path / "bomb.npz"
    parts = members("gm-full")
    with zipfile.ZipFile(path, "w", compresslevel=1) as z:
        for name, data in parts.items():
            if name != member:
                z.writestr(name, data)
        _zeros_member(z, member, (50_000_000,))
    assert path.stat().st_size < 4_000_000
    with zipfile.ZipFile(path) as z:       # the zip is consistent: 400 MB uncompressed
        assert z.getinfo(member).file_size > 400_000_000
    tracemalloc.start()
    try:
        refused(path, member[:-4])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


_PEAK_SCRIPT = """
import resource, sys, fastem
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    fastem.load(sys.argv[1])
except fastem.ModelFileError as exc:
    print(exc, file=sys.stderr)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


_MALLOC_DEBUG = "/usr/lib/x86_64-linux-gnu/libc_malloc_debug.so.0"


def _in_subprocess(script, *args, malloc_checks=False):
    src = str(Path(fastem.__file__).parent.parent)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    if malloc_checks:   # glibc: fill freed memory, abort on a corrupted heap
        env["MALLOC_PERTURB_"] = "165"
        if os.path.exists(_MALLOC_DEBUG):
            env.update(LD_PRELOAD=_MALLOC_DEBUG, MALLOC_CHECK_="3")
    return run_isolated(script, *args, env=env, timeout=300)


def test_lying_zip_sizes_are_refused_with_bounded_memory(tmp_path):
    parts = members("kmeans")
    lie = npy_header((50_000_000,), np.int32) + bytes(200_000)   # 50 000 int32 really
    declared = len(lie) - 200_000 + 200_000_000
    for compression, name in [(zipfile.ZIP_STORED, "s.npz"), (zipfile.ZIP_DEFLATED, "d.npz")]:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w", compression) as z:
            for member, data in parts.items():
                z.writestr(member, lie if member == "attr:labels_.npy" else data)
            # the central directory says the member holds the 200 MB its header describes
            z.getinfo("attr:labels_.npy").file_size = declared
        refused(path, "attr:labels_")
    # a version-1 file does not record n_samples: the header decides how much is read,
    # and only the bytes that are really there are ever touched
    m = meta_of(parts)
    m["format_version"] = 1
    del m["dims"]
    parts = with_meta(parts, m)
    path = tmp_path / "v1.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for member, data in parts.items():
            z.writestr(member, lie if member == "attr:labels_.npy" else data)
        z.getinfo("attr:labels_.npy").file_size = declared
    if not sys.platform.startswith("linux"):    # ru_maxrss in KB: Linux
        pytest.skip("peak memory is measured with Linux's ru_maxrss")
    run = _in_subprocess(_PEAK_SCRIPT, path)
    assert "attr:labels_" in run.stderr, run.stderr
    assert int(run.stdout) < 50_000, run.stdout        # KB of peak memory growth


def _evil_pickle(marker):
    class Evil:
        def __reduce__(self):
            return (Path.touch, (Path(marker),))

    return npy(np.array([Evil()], dtype=object), allow_pickle=True)


def test_a_pickled_object_array_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    for member in ("attr:cluster_centers_.npy", "attr:other_.npy", META):
        parts = {**members("kmeans"), member: _evil_pickle(marker)}
        refused(write(tmp_path / "evil.npz", parts), "pickle")
        assert not marker.exists()
    np.load(tmp_path / "evil.npz", allow_pickle=True)[META[:-4]]   # the payload is live
    assert marker.exists()


def _noise(n):
    return np.random.RandomState(0).bytes(n)


@pytest.mark.parametrize("how", ["empty", "random", "text", "npy", "plain-npz",
                                 "central-directory", "truncated-1", "truncated-2",
                                 "truncated-3", "truncated-4", "crc", "bad-json",
                                 "deep-json", "json-list", "big-metadata", "not-utf8"])
def test_corrupt_files_raise_model_file_error(how, tmp_path):
    good = file_bytes("gm-full")
    path = tmp_path / "bad.npz"
    parts = members("gm-full")
    if how == "empty":
        path.write_bytes(b"")
    elif how == "random":
        path.write_bytes(_noise(5000))
    elif how == "text":
        path.write_text("weights: 1\n")
    elif how == "npy":
        np.save(path.with_suffix(".npy"), np.arange(3))
        path.with_suffix(".npy").rename(path)
    elif how == "plain-npz":
        np.savez(path, a=np.arange(3))
    elif how == "central-directory":
        cut = good.rfind(b"PK\x01\x02")
        path.write_bytes(good[:cut] + _noise(len(good) - cut))
    elif how.startswith("truncated"):
        path.write_bytes(good[:len(good) * int(how[-1]) // 5])
    elif how == "crc":
        data = bytearray(good)
        start = good.find(b"attr:means_.npy") + len("attr:means_.npy") + 150
        data[start] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        text = {"bad-json": b'{"format": "fastem-model", ', "deep-json": b"[" * 100_000,
                "json-list": b'["fastem-model"]', "not-utf8": b'{"format": "\xff"}',
                "big-metadata": b" " * (_io.MAX_METADATA_BYTES + 1)}[how]
        write(path, {**parts, META: npy(np.frombuffer(text, dtype=np.uint8))})
    refused(path)


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastem.load(tmp_path / "nothing.npz")


def _set(section, key, value):
    def edit(m):
        (m if section is None else m[section])[key] = value
    return edit


@pytest.mark.parametrize("kind, edit, words", [
    ("gm-full", _set(None, "format_version", 3), ["newer fastem", "format version 3"]),
    ("gm-full", _set(None, "format_version", "2"), ["unknown format_version"]),
    ("gm-full", _set(None, "format_version", 0), ["unknown format_version"]),
    ("gm-full", _set(None, "class", "os.system"), ["unknown model class 'os.system'"]),
    ("gm-full", _set(None, "class", "KMeans"), ["not a parameter of KMeans"]),
    ("gm-full", _set(None, "format", "other"), ["not a fastem model"]),
    ("gm-full", _set(None, "extra", 1), ["unknown field 'extra'"]),
    ("gm-full", _set("params", "n_components", "2"), ["params.n_components", "integer"]),
    ("gm-full", _set("params", "n_components", True), ["params.n_components"]),
    ("gm-full", _set("params", "n_components", 3), ["dims.n_components = 2"]),
    ("gm-full", _set("params", "covariance_type", "round"), ["params.covariance_type"]),
    ("gm-full", _set("params", "covariance_type", "diag"),
     ["attr:precisions_cholesky_", "expected (n_components, n_features)"]),
    ("gm-full", _set("params", "tol", float("nan")), ["params.tol"]),
    ("gm-full", _set("params", "n_threads", 0), ["params.n_threads"]),
    ("gm-full", _set("params", "callback", "print"), ["params.callback"]),
    ("gm-full", _set("params", "exec", None), ["'exec' is not a parameter"]),
    ("gm-full", _set("params", "random_state", [[[]]]), ["params.random_state"]),
    ("gm-full", _set("attributes", "n_iter_", -1), ["attributes.n_iter_"]),
    ("gm-full", _set("attributes", "n_features_in_", 10**30), ["n_features_in_"]),
    ("gm-full", _set("attributes", "evil_", 1), ["attribute 'evil_' is unknown"]),
    ("gm-full", _set("dims", "n_features", 4), ["dims.n_features = 4"]),
    ("kmeans", _set("dims", "n_samples", 7), ["attr:labels_", "n_samples=7"]),
    ("kmeans", _set("params", "init", None), ["params.init"]),
    ("kmeans-init", _set("params", "init", "random"), ["'param:init': also given"]),
    ("kmeans", _set(None, "params_not_saved", ["tol"]), ["params_not_saved"]),
    ("hmm-full", _set("dims", "n_features", 0), ["dims.n_features"]),
    ("hmm-full", _set("params", "params", "stmcx"), ["params.params"]),
    ("hmm-full", _set("attributes", "monitor_", {"tol": 1}), ["attributes.monitor_"]),
    ("categorical", _set("params", "n_features", 3), ["dims.n_features = 4"]),
])
def test_bad_metadata_is_refused(kind, edit, words, tmp_path):
    refused(edited(tmp_path / "m.npz", kind, edit), *words)


def _spd_broken(ct):
    return {"full": np.stack([np.eye(3), np.diag([1.0, -1.0, 1.0])]),
            "tied": np.diag([1.0, 0.0, 1.0]), "diag": np.array([[1.0, 1, 1], [1, 0, 1]]),
            "spherical": np.array([1.0, -2.0])}[ct]


@pytest.mark.parametrize("kind, arrays, words", [
    ("gm-full", {"means_": np.full((2, 3), np.nan)}, ["attr:means_", "NaN or infinity"]),
    ("gm-diag", {"covariances_": np.full((2, 3), np.inf)}, ["NaN or infinity"]),
    ("gm-full", {"weights_": np.array([0.5, 0.6])}, ["attr:weights_", "sum to 1"]),
    ("gm-full", {"weights_": np.array([1.5, -0.5])}, ["negative probability"]),
    ("gm-full", {"weights_": np.array([1, 0], dtype=np.int64)},
     ["dtype must be float32 or float64"]),
    ("gm-full", {"weights_": np.array([0.5, 0.5], dtype=np.float16)}, ["float32 or float64"]),
    ("gm-full", {"precisions_": _spd_broken("full")}, ["component 1", "not positive def"]),
    ("gm-full", {"covariances_": np.stack([np.eye(3), np.triu(np.ones((3, 3)))])},
     ["attr:covariances_", "symmetric"]),
    ("gm-tied", {"precisions_": _spd_broken("tied")}, ["not positive definite"]),
    # positive eigenvalues and a Cholesky factor, but singular to working precision:
    # GaussianHMM's own validation refuses it, so loading must too
    ("hmm-full", {"_covars_": np.stack([[[1, 1 - 1e-15, 0], [1 - 1e-15, 1, 0], [0, 0, 1]],
                                        np.eye(3)])},
     ["'attr:_covars_' (component 0)", "ill-conditioned"]),
    ("gm-diag", {"precisions_": _spd_broken("diag")}, ["must be positive"]),
    ("gm-spherical", {"covariances_": _spd_broken("spherical")}, ["must be positive"]),
    ("gm-full", {"precisions_cholesky_": np.stack([np.tril(np.ones((3, 3)))] * 2)},
     ["upper-triangular"]),
    ("gm-tied", {"precisions_cholesky_": np.diag([1.0, 0.0, 1.0])}, ["positive diagonal"]),
    ("gm-given", {"param__precisions_init": _spd_broken("full")}, ["param:precisions_init"]),
    ("kmeans", {"labels_": np.full(80, 2, dtype=np.int32)}, ["labels in [0, n_clusters=2)"]),
    ("kmeans", {"labels_": np.zeros(80, dtype=np.int64)}, ["int32"]),
    ("kmeans", {"cluster_centers_": np.zeros((2, 3), dtype=complex)}, ["dtype"]),
    ("hmm-full", {"transmat_": np.array([[0.5, 0.5], [0.2, 0.2]])}, ["rows must sum to 1"]),
    ("hmm-full", {"startprob_": np.array([1.0, 0.0, 0.0])}, ["n_components=2"]),
    ("hmm-tied", {"_covars_": _spd_broken("tied")}, ["attr:_covars_"]),
    ("hmm-priors", {"param__means_prior": np.zeros((3, 3))}, ["does not broadcast"]),
    ("categorical", {"emissionprob_": np.full((2, 4), 0.3)}, ["attr:emissionprob_"]),
    ("gm-names", {"feature_names_in_": np.array(["a", "b"])}, ["feature_names_in_"]),
    ("gm-names", {"feature_names_in_": np.array([0xD800, 65, 66], dtype=np.uint32)
                  .view("<U1")}, ["not valid Unicode"]),
])
def test_bad_values_are_refused(kind, arrays, words, tmp_path):
    refused(edited(tmp_path / "m.npz", kind, **arrays), *words)


# -- atomic saves -----------------------------------------------------------------------
@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_save_leaves_the_old_file_and_no_temporary(error, tmp_path, monkeypatch):
    path = fitted("kmeans").save(tmp_path / "model.npz")
    old = path.read_bytes()
    real_savez = np.savez

    def fail_midway(f, **arrays):
        real_savez(f, **arrays)
        f.truncate(100)
        raise error

    monkeypatch.setattr(_io.np, "savez", fail_midway)
    with pytest.raises(type(error)):
        fitted("gm-full").save(path)
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["model.npz"]
    monkeypatch.undo()
    assert type(fastem.load(path)) is fastem.KMeans


def test_a_saved_file_gets_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = fitted("kmeans").save(tmp_path / "model.npz")
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# -- fuzzing: a mutated file is refused, or gives a model whose methods work ------------
_METHODS_SCRIPT = """
import sys, numpy as np, fastem
model = fastem.load(sys.argv[1])
rng = np.random.RandomState(0)
name = type(model).__name__
if name == "CategoricalHMM":
    X = rng.randint(0, model.emissionprob_.shape[1], size=(400, 1))
else:
    centers = model.cluster_centers_ if name == "KMeans" else model.means_
    X = rng.randn(400, centers.shape[1])
if name == "GaussianMixture":
    Xm = X.copy()
    Xm[::3, 0] = np.nan
    for data in (X, Xm, X.astype(np.float32)):
        model.predict(data), model.predict_proba(data), model.score(data)
    model.bic(X), model.sample(5), model.impute(Xm)
elif name == "KMeans":
    for data in (X, X.astype(np.float32)):
        model.predict(data), model.transform(data), model.score(data)
else:
    model.predict(X), model.predict_proba(X), model.score(X), model.sample(5)
    model.decode(X, algorithm="map"), model.predict(X, lengths=[100, 300])
print("ok")
"""


def methods_work(path):
    """Load ``path`` in a fresh interpreter and run the model's methods on valid data:
    returncode 0 when they all work (a crash gives a negative one)."""
    return _in_subprocess(_METHODS_SCRIPT, path, malloc_checks=True)


@pytest.mark.parametrize("kind", ["gm-full", "kmeans", "hmm-spherical", "categorical"])
def test_the_fuzz_harness_runs_the_methods(kind, tmp_path):
    run = methods_work(write(tmp_path / "m.npz", members(kind)))
    assert run.returncode == 0 and run.stdout == "ok\n", run.stderr
    run = methods_work(edited(tmp_path / "m.npz", kind, _set(None, "format_version", 9)))
    assert run.returncode == 1 and "ModelFileError" in run.stderr


_counter = iter(range(10**9))
OUTCOMES: Counter = Counter()     # (case, outcome) -> examples, for scripts/fuzz.py


def refused_or_working(parts_or_bytes, tmp_dir):
    path = tmp_dir / f"fuzz-{next(_counter)}.npz"
    if isinstance(parts_or_bytes, bytes):
        path.write_bytes(parts_or_bytes)
    else:
        write(path, parts_or_bytes)
    try:
        fastem.load(path)
    except ModelFileError:
        OUTCOMES[("load", "ModelFileError")] += 1
        path.unlink()
        return
    OUTCOMES[("load", "ok")] += 1
    run = methods_work(path)
    assert run.returncode == 0, (f"{path} loads, but its methods fail "
                                 f"(returncode {run.returncode}):\n{run.stderr[-3000:]}")
    path.unlink()


KINDS = st.sampled_from(sorted(MAKERS))


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(kind=KINDS, data=st.data())
def test_fuzz_flipped_and_truncated_bytes(kind, data, fuzz_dir):
    raw = bytearray(file_bytes(kind))
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    refused_or_working(bytes(raw), fuzz_dir)


@FUZZ
@given(kind=KINDS, data=st.data())
def test_fuzz_flipped_bytes_inside_members(kind, data, fuzz_dir):
    """Bytes of one member (header or data) changed, in a zip with valid checksums."""
    parts = members(kind)
    name = data.draw(st.sampled_from(sorted(parts)))
    member = bytearray(parts[name])
    for _ in range(data.draw(st.integers(1, 4))):
        member[data.draw(st.integers(0, len(member) - 1))] = data.draw(st.integers(0, 255))
    refused_or_working({**parts, name: bytes(member)}, fuzz_dir)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(), inner, max_size=4), max_leaves=8)


@FUZZ
@given(kind=KINDS, data=st.data())
def test_fuzz_random_json_values(kind, data, fuzz_dir):
    parts = members(kind)
    meta = meta_of(parts)
    section = data.draw(st.sampled_from([None, "params", "attributes", "dims"]))
    target = meta if section is None else meta[section]
    key = data.draw(st.sampled_from(sorted(target)) | st.text(max_size=8))
    if data.draw(st.booleans()):
        # a plausible value: another valid file's value, or a small number or a string
        target[key] = data.draw(st.sampled_from([0, 1, 2, 3, 5, -1, 0.5, 1e300, "full",
                                                 "diag", "auto", "viterbi", "map", True,
                                                 None, "st", [1.0, 0.0]]))
    else:
        target[key] = data.draw(JSON)
    refused_or_working(with_meta(parts, meta), fuzz_dir)


@FUZZ
@given(kind=KINDS, data=st.data())
def test_fuzz_changed_shapes_in_headers(kind, data, fuzz_dir):
    parts = members(kind)
    name = data.draw(st.sampled_from(sorted(parts)))
    old = np.load(io.BytesIO(parts[name]))
    how = data.draw(st.sampled_from(["header", "filled", "resized"]))
    if how == "resized" and old.ndim:  # too short or too long along one axis, valid values
        axis = data.draw(st.integers(0, old.ndim - 1))
        size = data.draw(st.sampled_from([0, 1, 2, 3, 5, 50]))
        new = np.take(old, np.arange(size) % old.shape[axis], axis=axis)
        if name != META and old.dtype.kind == "f" and np.allclose(old.sum(axis=-1), 1):
            with np.errstate(invalid="ignore", divide="ignore"):
                new = new / new.sum(axis=-1, keepdims=True)   # still probabilities
        new = npy(new)
    else:
        shape = tuple(data.draw(st.lists(st.integers(0, 6), max_size=3)))
        if how == "header":            # a new header over the old data
            new = npy_header(shape, old.dtype) + parts[name][len(npy(old)) - old.nbytes:]
        else:                          # a consistent array of the new shape
            value = data.draw(st.sampled_from([0.0, 0.5, 1.0, 1 / 3]))
            new = npy(np.full(shape, value, dtype=old.dtype))
    refused_or_working({**parts, name: new}, fuzz_dir)


@FUZZ
@given(kind=KINDS, other=KINDS, data=st.data())
def test_fuzz_members_swapped_between_models(kind, other, data, fuzz_dir):
    parts, donor = members(kind), members(other)
    name = data.draw(st.sampled_from(sorted(parts)))
    given_name = data.draw(st.sampled_from(sorted(donor)))
    if data.draw(st.booleans()):
        parts[name] = donor[given_name]        # same slot, another model's array
    else:
        parts[given_name] = donor[given_name]  # another model's member added or replaced
    refused_or_working(parts, fuzz_dir)


@FUZZ
@given(kind=KINDS, data=st.data())
def test_fuzz_random_values_in_members(kind, data, fuzz_dir):
    """An array replaced by one of the same shape and dtype holding any values, extreme
    ones included: refused by a value check, or usable."""
    parts = members(kind)
    name = data.draw(st.sampled_from(sorted(set(parts) - {META})))
    old = np.load(io.BytesIO(parts[name]))
    if old.dtype.kind == "f":
        elements = st.floats(width=64) | st.sampled_from([0.0, 1.0, 1e-300, 1e300, -1e300])
    elif old.dtype.kind in "iu":
        elements = st.integers(np.iinfo(old.dtype).min, np.iinfo(old.dtype).max)
    else:
        elements = st.text(max_size=old.dtype.itemsize // 4)
    new = old.copy()
    flat = new.reshape(-1)
    for _ in range(data.draw(st.integers(1, 4)) if flat.size else 0):
        flat[data.draw(st.integers(0, flat.size - 1))] = data.draw(elements)
    refused_or_working({**parts, name: npy(new)}, fuzz_dir)
