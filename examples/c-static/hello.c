/* A statically linked C program: distill puts it onto the `static` image.
 *   gcc -static -O2 -o hello hello.c && distill build ./hello --output oci-archive:hello.tar */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    printf("hello from a static C program, uid %d\n", (int)getuid());
    return 0;
}
