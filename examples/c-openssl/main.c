/* A dynamic C program linked against OpenSSL and zlib: distill reads its ELF, finds the
 * Debian packages that ship libssl.so.3, libcrypto.so.3 and libz.so.1, and builds it onto
 * `base` with them.
 *   gcc -O2 -o digest main.c -lssl -lcrypto -lz && distill build ./digest --output oci-archive:digest.tar */
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

int main(int argc, char **argv) {
    const char *text = argc > 1 ? argv[1] : "distill";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL);
    printf("sha256(%s) = ", text);
    for (unsigned int i = 0; i < n; i++) printf("%02x", md[i]);
    printf("\n%s, zlib %s\n", OpenSSL_version(OPENSSL_VERSION), zlibVersion());
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    printf("TLS context: %s\n", ctx ? "ok" : "failed");
    return ctx ? 0 : 1;
}
