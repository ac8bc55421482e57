"""greenlet's C API (the "greenlet._C_API" capsule of greenlet.h), served by
greenlet_cffi on CPython (csrc/capi.c).  greenlet's own C and C++ test
extensions run against it in tests/upstream; this extension of ours checks
the corners they leave: every table entry, and bad arguments giving Python
exceptions.  The table's layout is greenlet.h's ABI, declared here anew."""
import os
import sys

import pytest

import greenlet_cffi
from greenlet_cffi import compat

pytestmark = pytest.mark.skipif(
    sys.implementation.name != "cpython",
    reason="greenlet's C API is served on CPython only (PyPy: README)")

SOURCE = r"""
#include <Python.h>
/* greenlet.h's table: type, error, exit, then nine functions */
static void **api;
typedef PyObject *(*new_f)(PyObject *, PyObject *);
typedef PyObject *(*current_f)(void);
typedef PyObject *(*throw_f)(PyObject *, PyObject *, PyObject *, PyObject *);
typedef PyObject *(*switch_f)(PyObject *, PyObject *, PyObject *);
typedef int (*setparent_f)(PyObject *, PyObject *);
typedef int (*query_f)(PyObject *);
typedef PyObject *(*parent_f)(PyObject *);

static PyObject *objects(PyObject *m, PyObject *a)
{ return Py_BuildValue("OOO", api[0], api[1], api[2]); }
static PyObject *new_(PyObject *m, PyObject *a)
{ PyObject *run = NULL, *parent = NULL;
  if (!PyArg_ParseTuple(a, "|OO", &run, &parent)) return NULL;
  return ((new_f)api[3])(run == Py_None ? NULL : run, parent == Py_None ? NULL : parent); }
static PyObject *current(PyObject *m, PyObject *a) { return ((current_f)api[4])(); }
static PyObject *throw_(PyObject *m, PyObject *a)
{ PyObject *g, *t, *v = NULL;
  if (!PyArg_ParseTuple(a, "OO|O", &g, &t, &v)) return NULL;
  return ((throw_f)api[5])(g, t, v, NULL); }
static PyObject *switch_(PyObject *m, PyObject *a, PyObject *kw)
{ PyObject *rest = PyTuple_GetSlice(a, 1, PyTuple_GET_SIZE(a)), *r;
  if (rest == NULL) return NULL;
  r = ((switch_f)api[6])(PyTuple_GET_ITEM(a, 0), rest, kw);
  Py_DECREF(rest); return r; }
static PyObject *setparent(PyObject *m, PyObject *a)
{ PyObject *g, *p;
  if (!PyArg_ParseTuple(a, "OO", &g, &p)) return NULL;
  if (((setparent_f)api[7])(g, p) < 0) return NULL;
  Py_RETURN_NONE; }
static PyObject *queries(PyObject *m, PyObject *g)
{ int r[3], i;
  for (i = 0; i < 3; i++)
      if ((r[i] = ((query_f)api[8 + i])(g)) < 0) return NULL;
  return Py_BuildValue("iii", r[0], r[1], r[2]); }
static PyObject *getparent(PyObject *m, PyObject *g)
{ PyObject *p = ((parent_f)api[11])(g);
  if (p == NULL && !PyErr_Occurred()) return PyUnicode_FromString("NULL");
  return p; }
/* a switch made from C with this C frame on the stack, returning into it */
static PyObject *switch_from_c(PyObject *m, PyObject *g)
{ PyObject *r = ((switch_f)api[6])(g, NULL, NULL);
  if (r == NULL) return NULL;
  return Py_BuildValue("(sN)", "back in C", r); }

static PyMethodDef methods[] = {
  {"objects", objects, METH_NOARGS}, {"new", new_, METH_VARARGS},
  {"current", current, METH_NOARGS}, {"throw", throw_, METH_VARARGS},
  {"switch", (PyCFunction)(void (*)(void))switch_, METH_VARARGS | METH_KEYWORDS},
  {"setparent", setparent, METH_VARARGS}, {"queries", queries, METH_O},
  {"getparent", getparent, METH_O}, {"switch_from_c", switch_from_c, METH_O},
  {NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "gcffi_capi_client", NULL, -1, methods};
PyMODINIT_FUNC PyInit_gcffi_capi_client(void)
{ api = (void **)PyCapsule_Import("greenlet._C_API", 0);
  if (api == NULL) return NULL;
  return PyModule_Create(&def); }
"""


@pytest.fixture(scope="module")
def ext(tmp_path_factory):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import cext
    d = tmp_path_factory.mktemp("capi")
    src = d / "gcffi_capi_client.c"
    src.write_text(SOURCE)
    cext.build(str(src), str(d))
    compat.register()
    sys.path.insert(0, str(d))
    try:
        import gcffi_capi_client
    finally:
        sys.path.remove(str(d))
    return gcffi_capi_client


def test_capsule_where_greenlet_h_looks():
    alias = compat.register()
    assert alias._C_API is greenlet_cffi._C_API
    assert alias._greenlet._C_API is greenlet_cffi._C_API
    assert "greenlet._C_API" in repr(greenlet_cffi._C_API)


def test_objects(ext):
    assert ext.objects() == (greenlet_cffi.greenlet, greenlet_cffi.error,
                             greenlet_cffi.GreenletExit)


def test_new_switch_and_queries(ext):
    main = greenlet_cffi.getcurrent()
    assert ext.current() is main
    assert ext.queries(main) == (1, 1, 1)
    assert ext.getparent(main) == "NULL"      # NULL with no exception set
    g = ext.new(lambda *a, **k: greenlet_cffi.getcurrent().parent.switch((a, k)))
    assert type(g) is greenlet_cffi.greenlet and g.parent is main
    assert ext.queries(g) == (0, 0, 0)
    assert ext.switch(g, 1, 2, x=3) == ((1, 2), {"x": 3})
    assert ext.queries(g) == (0, 1, 1)
    assert ext.getparent(g) is main
    g.switch()
    assert g.dead and ext.queries(g) == (0, 1, 0)


def test_new_with_parent_and_setparent(ext):
    p = greenlet_cffi.greenlet(lambda: None)
    g = ext.new(None, p)
    assert g.parent is p
    ext.setparent(g, greenlet_cffi.getcurrent())
    assert g.parent is greenlet_cffi.getcurrent()
    with pytest.raises(ValueError, match="cyclic"):
        ext.setparent(p, p)


def test_throw(ext):
    def body():
        try:
            greenlet_cffi.getcurrent().parent.switch()
        except KeyError as e:
            return "caught %s" % e.args
    g = greenlet_cffi.greenlet(body)
    g.switch()
    assert ext.throw(g, KeyError, "k") == "caught k"
    with pytest.raises(ZeroDivisionError):
        ext.throw(greenlet_cffi.greenlet(lambda: None), ZeroDivisionError)


def test_switch_from_c_frame(ext):
    # The C frame of switch_from_c is on the stack a greenlet switches away
    # from and back into.
    main = greenlet_cffi.getcurrent()
    g = greenlet_cffi.greenlet(lambda: ("done", main.switch("first")))
    assert ext.switch_from_c(g) == ("back in C", "first")
    # no arguments: the receiver gets (), as from g.switch()
    assert ext.switch_from_c(g) == ("back in C", ("done", ()))
    assert g.dead


def test_bad_arguments_raise(ext):
    with pytest.raises(TypeError):
        ext.switch("not a greenlet")
    with pytest.raises(TypeError):
        ext.throw(42, ValueError)
    with pytest.raises(TypeError):
        ext.queries("not a greenlet")
    with pytest.raises(TypeError):
        ext.getparent(None)
    with pytest.raises(TypeError, match="parent must be a greenlet"):
        ext.setparent(greenlet_cffi.greenlet(), "nope")
    with pytest.raises(TypeError, match="parent must be a greenlet"):
        ext.new(None, 42)
