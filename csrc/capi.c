/* greenlet's C API on greenlet_cffi (CPython).
 *
 * C extensions written for greenlet (gevent's, greenlet's own test
 * extensions) include greenlet's greenlet.h, whose PyGreenlet_Import()
 * reads a table of twelve pointers from the capsule "greenlet._C_API":
 * the greenlet type, greenlet.error, GreenletExit, and nine functions.
 * Their ABI is only that table (greenlet 3 made the state queries
 * functions too), so it can be served by functions that call the Python
 * layer.  The table's order is the ABI: type, error, exit, New,
 * GetCurrent, Throw, Switch, SetParent, MAIN, STARTED, ACTIVE, GetParent.
 */
#include <Python.h>
#include <stdint.h>

/* Set once by gcffi_capi_capsule(); kept alive for the process, since
 * compiled extensions keep the table. */
static PyObject *capi_type, *capi_getcurrent, *capi_switch,
                *capi_throw, *capi_state;

static int
is_greenlet(void *op)
{
    return op != NULL && PyObject_TypeCheck((PyObject *)op, (PyTypeObject *)capi_type);
}

/* The layer's state query: a bitmask, 1 main, 2 started, 4 active. */
static int
state_bits(void *g)
{
    PyObject *r;
    long bits;
    if (!is_greenlet(g)) {
        PyErr_BadArgument();
        return -1;
    }
    r = PyObject_CallOneArg(capi_state, (PyObject *)g);
    if (r == NULL)
        return -1;
    bits = PyLong_AsLong(r);
    Py_DECREF(r);
    return (int)bits;
}

static int
api_main(void *g)
{
    int b = state_bits(g);
    return b < 0 ? -1 : (b & 1) != 0;
}

static int
api_started(void *g)
{
    int b = state_bits(g);
    return b < 0 ? -1 : (b & 2) != 0;
}

static int
api_active(void *g)
{
    int b = state_bits(g);
    return b < 0 ? -1 : (b & 4) != 0;
}

static PyObject *
api_getcurrent(void)
{
    return PyObject_CallNoArgs(capi_getcurrent);
}

/* greenlet(run, parent); either may be NULL: not given. */
static PyObject *
api_new(PyObject *run, PyObject *parent)
{
    PyObject *kw, *empty, *g = NULL;
    if (parent != NULL && !is_greenlet(parent)) {
        PyErr_SetString(PyExc_TypeError, "parent must be a greenlet");
        return NULL;
    }
    kw = PyDict_New();
    empty = PyTuple_New(0);
    if (kw != NULL && empty != NULL
            && (run == NULL || PyDict_SetItemString(kw, "run", run) == 0)
            && (parent == NULL || PyDict_SetItemString(kw, "parent", parent) == 0))
        g = PyObject_Call(capi_type, empty, kw);
    Py_XDECREF(kw);
    Py_XDECREF(empty);
    return g;
}

/* The base class's switch, whatever a subclass defines, as greenlet does. */
static PyObject *
api_switch(PyObject *g, PyObject *args, PyObject *kwargs)
{
    PyObject *full, *r;
    Py_ssize_t i, n;
    if (!is_greenlet(g) || (args != NULL && !PyTuple_Check(args))
            || (kwargs != NULL && !PyDict_Check(kwargs))) {
        PyErr_BadArgument();
        return NULL;
    }
    n = args == NULL ? 0 : PyTuple_GET_SIZE(args);
    full = PyTuple_New(n + 1);
    if (full == NULL)
        return NULL;
    Py_INCREF(g);
    PyTuple_SET_ITEM(full, 0, g);
    for (i = 0; i < n; i++) {
        Py_INCREF(PyTuple_GET_ITEM(args, i));
        PyTuple_SET_ITEM(full, i + 1, PyTuple_GET_ITEM(args, i));
    }
    r = PyObject_Call(capi_switch, full, kwargs);
    Py_DECREF(full);
    return r;
}

static PyObject *
api_throw(PyObject *g, PyObject *typ, PyObject *val, PyObject *tb)
{
    if (!is_greenlet(g) || typ == NULL) {
        PyErr_BadArgument();
        return NULL;
    }
    return PyObject_CallFunctionObjArgs(capi_throw, g, typ,
                                        val ? val : Py_None, tb ? tb : Py_None, NULL);
}

static int
api_setparent(PyObject *g, PyObject *parent)
{
    if (!is_greenlet(g)) {
        PyErr_BadArgument();
        return -1;
    }
    if (!is_greenlet(parent)) {
        PyErr_SetString(PyExc_TypeError, "parent must be a greenlet");
        return -1;
    }
    return PyObject_SetAttrString(g, "parent", parent);
}

/* A new reference, or NULL -- with no exception set when g has no parent. */
static PyObject *
api_getparent(PyObject *g)
{
    PyObject *p;
    if (!is_greenlet(g)) {
        PyErr_BadArgument();
        return NULL;
    }
    p = PyObject_GetAttrString(g, "parent");
    if (p == Py_None) {
        Py_DECREF(p);
        return NULL;
    }
    return p;
}

static void *capi_table[12];

/* Fills the table from the layer's objects and appends the capsule to
 * out_list (a Python list); 0, or -1 with the Python error cleared. */
int
gcffi_capi_capsule(uintptr_t type, uintptr_t error, uintptr_t exit,
                   uintptr_t switch_, uintptr_t throw_, uintptr_t getcurrent,
                   uintptr_t state, uintptr_t out_list)
{
    PyObject *capsule;
    if (capi_type == NULL) {
        PyObject *objs[] = {(PyObject *)type, (PyObject *)error, (PyObject *)exit,
                            (PyObject *)switch_, (PyObject *)throw_,
                            (PyObject *)getcurrent, (PyObject *)state};
        for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++)
            Py_INCREF(objs[i]);     /* for the life of the process */
        capi_type = objs[0];
        capi_switch = objs[3];
        capi_throw = objs[4];
        capi_getcurrent = objs[5];
        capi_state = objs[6];
        capi_table[0] = objs[0];
        capi_table[1] = objs[1];
        capi_table[2] = objs[2];
        capi_table[3] = (void *)api_new;
        capi_table[4] = (void *)api_getcurrent;
        capi_table[5] = (void *)api_throw;
        capi_table[6] = (void *)api_switch;
        capi_table[7] = (void *)api_setparent;
        capi_table[8] = (void *)api_main;
        capi_table[9] = (void *)api_started;
        capi_table[10] = (void *)api_active;
        capi_table[11] = (void *)api_getparent;
    }
    capsule = PyCapsule_New(capi_table, "greenlet._C_API", NULL);
    if (capsule == NULL || PyList_Append((PyObject *)out_list, capsule) < 0) {
        Py_XDECREF(capsule);
        PyErr_Clear();
        return -1;
    }
    Py_DECREF(capsule);
    return 0;
}
