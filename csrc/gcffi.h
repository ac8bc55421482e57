/* The C core's interface to Python, as cffi sees it (build_ffi.py reads this
 * file as its cdef, so it holds plain declarations only).
 *
 * Python objects cross as uintptr_t: id() of an object the caller keeps
 * alive, which on CPython is its address.  Results come back appended to a
 * list passed the same way.
 */
typedef struct gcffi_coro gcffi_coro;
/* What Python holds for a greenlet: a box around its core that Python
 * allocates (ffi.new), so that it lives exactly as long as the greenlet
 * object does; see _backend_cpython.py. */
typedef struct { gcffi_coro *coro; } gcffi_handle;

gcffi_coro *gcffi_new_main(void);   /* the greenlet already running this thread */
gcffi_coro *gcffi_new(void);        /* an unstarted greenlet */
void gcffi_free(gcffi_coro *c);
/* From the greenlet running in this thread to target (unstarted or
 * suspended).  0 once the caller is resumed; -1: no memory to switch;
 * -2: target belongs to another thread, or this thread has no main. */
int gcffi_transfer(gcffi_handle *target);
int gcffi_top_frame(gcffi_handle *h, uintptr_t out_list);
int gcffi_get_context(gcffi_handle *h, int running, uintptr_t out_list);
void gcffi_set_context(gcffi_handle *h, int running, uintptr_t ctx);
const char *gcffi_platform(void);
