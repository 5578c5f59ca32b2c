"""Reads a safetensors file with numpy alone (no torch, no safetensors package) and checks it
against an expectation written by the TypeScript side: tensor names, dtypes, shapes and values.

usage: python3 check_safetensors.py FILE.safetensors EXPECTED.json
EXPECTED.json: {"tensors": {name: {"dtype": "F32", "shape": [..], "values": [all values]}}}
Prints one JSON line {"ok": true, "tensors": N} or exits 1 with the first problem.
"""
import json, struct, sys
import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16}  # BF16 is read as the top half of a float32 below


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n :]
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        raw = body[begin:end]
        if e["dtype"] == "BF16":
            arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, np.dtype(DTYPES[e["dtype"]]).newbyteorder("<"))
        out[name] = (e["dtype"], arr.reshape(e["shape"]))
    return out


def main(path, expected_path):
    with open(expected_path) as f:
        expected = json.load(f)["tensors"]
    got = read_safetensors(path)
    if sorted(got) != sorted(expected):
        sys.exit(f"names differ: file has {sorted(got)[:4]}…, expected {sorted(expected)[:4]}…")
    for name, want in expected.items():
        dtype, arr = got[name]
        if dtype != want["dtype"] or list(arr.shape) != want["shape"]:
            sys.exit(f"{name}: {dtype} {list(arr.shape)}, expected {want['dtype']} {want['shape']}")
        ref = np.asarray(want["values"], dtype=np.float64).reshape(want["shape"])
        if not np.array_equal(arr.astype(np.float64), ref):
            sys.exit(f"{name}: values differ (max |diff| {np.abs(arr - ref).max()})")
    print(json.dumps({"ok": True, "tensors": len(got)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
