/* The C core's interface to Python, as cffi sees it (build_ffi.py reads this
 * file as its cdef, so it holds plain declarations only).
 *
 * Python objects cross as uintptr_t: id() of an object the caller keeps
 * alive, which on CPython is its address.  Results come back appended to a
 * list passed the same way.
 */
typedef struct gcffi_coro gcffi_coro;

gcffi_coro *gcffi_new_main(void);   /* the greenlet already running this thread */
gcffi_coro *gcffi_new(void);        /* an unstarted greenlet */
void gcffi_free(gcffi_coro *c);
int gcffi_transfer(gcffi_coro *origin, gcffi_coro *target);
int gcffi_top_frame(gcffi_coro *c, uintptr_t out_list);
int gcffi_get_context(gcffi_coro *c, int running, uintptr_t out_list);
void gcffi_set_context(gcffi_coro *c, int running, uintptr_t ctx);
const char *gcffi_platform(void);
