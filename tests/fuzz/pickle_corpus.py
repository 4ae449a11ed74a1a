#!/usr/bin/python3
"""pickle_corpus.py DIR - seed inputs for tests/fuzz/fuzz_pickle.c: one real torch.save
zip (first byte odd: the checkpoint entry point) and its data.pkl (first byte even: the
bare unpickler), written by python3-torch."""
import collections
import io
import os
import sys
import zipfile

import torch

out = sys.argv[1]
b = io.BytesIO()
torch.save({"generator": collections.OrderedDict(w=torch.ones(3), b=torch.zeros(2, 2), n=torch.tensor(7))}, b)
open(os.path.join(out, "t.pt"), "wb").write(b"\x03" + b.getvalue())
z = zipfile.ZipFile(io.BytesIO(b.getvalue()))
name = [x for x in z.namelist() if x.endswith("data.pkl")][0]
open(os.path.join(out, "p.pkl"), "wb").write(b"\x02" + z.read(name))
