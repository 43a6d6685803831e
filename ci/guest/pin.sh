# pin.sh names the guest kernel the NVMe guest tests boot. A 6.12 kernel is
# pinned on purpose: it refuses IORING_SETUP_IOPOLL on a queue without poll
# queues (EOPNOTSUPP), where a 6.1 kernel silently falls back to interrupts.
# Bump all three together; prepare.sh rebuilds the cache on a new version.
GUEST_KVER=6.12.117+deb12-amd64
GUEST_KPKG=linux-image-6.12.117+deb12-amd64
GUEST_KPKG_VERSION=6.12.117-1~deb12u1
# Modules copied into the initramfs, in load order (dependencies first).
GUEST_MODULES="nvme-auth nvme-core nvme irqbypass vfio vfio_iommu_type1 vfio-pci-core vfio-pci"
