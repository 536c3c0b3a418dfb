/*
 * t-child: a small program that test-loader and the standin-ctl test start
 * under LD_PRELOAD=libstandin.so, to look at the library from outside
 * (exit status, stderr, STANDIN_DUMP).  Modes:
 *   nop         print "main" and exit 0 (a malformed config must stop us before)
 *   open-iommu  open /dev/iommu, print the errno (0 on success)
 *   leak        build a vIOMMU family and exit without tearing it down
 *   clean       build the same and tear it down in order, then exit
 *   serve       build the same, print "ready", wait for EOF on stdin, tear down
 */
#include "thelp.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
    TEnv e;
    uint32_t vdev, q0;
} Fam;

static int build(Fam *f)
{
    if (!t_env_up(&f->e, 1, 1 << 20, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV) ||
        t_vdevice_alloc(f->e.fd, f->e.viommu, f->e.devid[0], 0x10, &f->vdev) ||
        t_hwq_alloc(f->e.fd, f->e.viommu, IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, 0, T_GUEST_IOVA,
                    512, &f->q0) ||
        !t_env_map_page0(&f->e)) {
        fprintf(stderr, "t-child: set-up failed\n");
        return -1;
    }
    return 0;
}

static int teardown(Fam *f)
{
    int r = 0;

    munmap((void *)f->e.page0, f->e.mlen);
    f->e.page0 = NULL;
    r |= t_destroy(f->e.fd, f->q0);
    r |= t_destroy(f->e.fd, f->vdev);
    r |= t_destroy(f->e.fd, f->e.viommu);
    r |= t_vfio_detach(f->e.dev[0]);
    r |= t_destroy(f->e.fd, f->e.s2);
    if (r) {
        fprintf(stderr, "t-child: teardown failed\n");
    }
    t_env_down(&f->e);
    return r ? 1 : 0;
}

int main(int argc, char **argv)
{
    Fam f;
    char buf[64];

    if (argc < 2) {
        return 2;
    }
    if (!strcmp(argv[1], "nop")) {
        printf("main\n");
        return 0;
    }
    if (!strcmp(argv[1], "open-iommu")) {
        int fd = open("/dev/iommu", O_RDWR);

        printf("%d\n", fd < 0 ? errno : 0);
        return fd < 0 ? 1 : 0;
    }
    memset(&f, 0, sizeof(f));
    if (build(&f)) {
        return 3;
    }
    if (!strcmp(argv[1], "leak")) {
        printf("viommu=%u vdevice=%u hw_queue=%u ioas=%u hwpt=%u mmap=%llu\n", f.e.viommu,
               f.vdev, f.q0, f.e.ioas, f.e.s2, (unsigned long long)f.e.moff);
        fflush(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "serve")) {
        printf("ready viommu=%u\n", f.e.viommu);
        fflush(stdout);
        while (read(0, buf, sizeof(buf)) > 0) {
        }
    }
    return teardown(&f);
}
