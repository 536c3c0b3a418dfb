/*
 * t-child: a small program that test-loader and the standin-ctl test start
 * under LD_PRELOAD=libstandin.so, to look at the library from outside
 * (exit status, stderr, STANDIN_DUMP).  Modes:
 *   nop         print "main" and exit 0 (a malformed config must stop us before)
 *   open-iommu  open /dev/iommu, print the errno (0 on success)
 *   leak        build a vIOMMU family and exit without tearing it down
 *   clean       build the same and tear it down in order, then exit
 *   serve       build the same, print "ready", wait for EOF on stdin, tear down
 *   check FD... what each fd is here, one line each (below): fds passed to us
 *   share A B   A and B are one iommufd: an IOAS made through A is destroyed
 *               through B; prints "shared=<errno name>"
 *   recv SOCK   receive one SCM_RIGHTS message on socket fd SOCK, then
 *               "text=<data>" and a check line per fd received
 */
#include "thelp.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "standin-client.h"

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

/*
 * One line about @fd:
 *   fd=N iommufd rdev=10:123 ioas=ID destroy2=ERR      (IOAS_ALLOC, DESTROY of ID 2)
 *   fd=N vfio rdev=511:M bind=ERR vendor=0xVVVV device=0xDDDD
 *   fd=N plain                                        (not a character device)
 */
static void check_fd(int fd)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        printf("fd=%d fstat=%s\n", fd, t_errname(errno));
        return;
    }
    if (!S_ISCHR(st.st_mode)) {
        printf("fd=%d plain\n", fd);
        return;
    }
    if (major(st.st_rdev) == 10) {
        uint32_t id = 0;
        int r = t_ioas_alloc(fd, &id);

        printf("fd=%d iommufd rdev=%u:%u ioas=%u%s%s destroy2=%s\n", fd, major(st.st_rdev),
               minor(st.st_rdev), id, r ? " alloc=" : "", r ? t_errname(r) : "",
               t_errname(t_destroy(fd, 2)));
    } else {
        int ifd = t_iommufd();
        uint32_t devid = 0;
        uint16_t ids[2] = { 0, 0 };
        int r = t_vfio_bind(fd, ifd, &devid);

        if (pread(fd, ids, sizeof(ids), (off_t)VFIO_PCI_CONFIG_REGION_INDEX << 40) != sizeof(ids)) {
            ids[0] = ids[1] = 0;
        }
        printf("fd=%d vfio rdev=%u:%u bind=%s vendor=0x%04x device=0x%04x\n", fd,
               major(st.st_rdev), minor(st.st_rdev), t_errname(r), ids[0], ids[1]);
        close(ifd);
    }
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
    if (!strcmp(argv[1], "check")) {
        for (int i = 2; i < argc; i++) {
            check_fd(atoi(argv[i]));
        }
        return 0;
    }
    if (!strcmp(argv[1], "share") && argc == 4) {
        uint32_t id = 0;
        int r = t_ioas_alloc(atoi(argv[2]), &id);

        printf("shared=%s\n", t_errname(r ? r : t_destroy(atoi(argv[3]), id)));
        return 0;
    }
    if (!strcmp(argv[1], "recv") && argc == 3) {
        int fds[8];
        char text[256];
        int n = standin_recv_fds(atoi(argv[2]), fds, 8, text, sizeof(text), 5000);

        if (n < 0) {
            printf("recv=%s\n", t_errname(errno));
            return 1;
        }
        g_strchomp(text);
        printf("text=%s\n", text);
        for (int i = 0; i < n; i++) {
            check_fd(fds[i]);
        }
        return 0;
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
