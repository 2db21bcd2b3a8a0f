/* A stand-in for Windows' bcryptprimitives.dll, for running Rust programs
 * under Wine 8, which lacks it. Rust's standard library (1.78 and later)
 * takes its random bytes (HashMap keys) from ProcessPrng in that DLL; this
 * one forwards to RtlGenRandom, exported by advapi32 as SystemFunction036.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -Wl,--kill-at \
 *            -o bcryptprimitives.dll processprng.c -ladvapi32
 * then copy the DLL into $WINEPREFIX/drive_c/windows/system32/.
 * --kill-at changes nothing on x86_64; with i686-w64-mingw32-gcc it makes the
 * export the undecorated "ProcessPrng" instead of the stdcall "ProcessPrng@8".
 * For testing only: never ship it to a real Windows system. */

#include <windows.h>

/* advapi32's RtlGenRandom, declared here rather than through ntsecapi.h. */
__declspec(dllimport) BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* Fills `data` with `len` random bytes and returns TRUE (as the real one
 * does), or FALSE should RtlGenRandom fail. A SIZE_T larger than a ULONG is
 * served in pieces. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG part = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, part)) {
            return FALSE;
        }
        data += part;
        len -= part;
    }
    return TRUE;
}
