"""The regions of a --saturate run (FASTA records, or BED + reference, as `embed` reads them) as rows of sites: one
row per base of every region, in input order, each region read 5' to 3' on its strand."""
from dnabert2.errors import InputError
from dnabert2.regions.source import RegionSource
from dnabert2.variants.settings import MAX_SATURATE_BP


class SiteSource:
    """`scan()` checks the regions (every BED line against the reference, every record) and their lengths."""

    def __init__(self, fasta=None, bed=None, ref=None, clip=False, resize=None, index_dir=None):
        self.regions = RegionSource(fasta=fasta, bed=bed, ref=ref, clip=clip, resize=resize, index_dir=index_dir)
        self.count = self.fingerprint = None
        self.lengths = []

    def scan(self):
        self.regions.scan()
        where = self.regions.bed or self.regions.fasta or "regions"
        for number, region in enumerate(self.regions, 1):
            if region.length > MAX_SATURATE_BP:
                raise InputError(f"{where}: region {number} ({region.name}) is {region.length:,} bp; --saturate "
                                 f"scores every SNV of a region in one window of the whole region, at most "
                                 f"{MAX_SATURATE_BP:,} bp (cut it, or give --resize)")
            self.lengths.append(region.length)
        self.count, self.fingerprint = self.regions.total_bp, self.regions.fingerprint
        return self

    def shard_count(self, shard):
        k, n = shard or (0, 1)
        return sum(self.lengths[k::n])

    def rows(self, shard):
        """(input index, first site, Region) of the regions of this shard; sites count over all regions."""
        k, n = shard or (0, 1)
        first = 0
        for index, region in enumerate(self.regions):
            if index % n == k:
                yield index, first, region
            first += region.length

    def describe(self):
        return self.regions.describe()

    def close(self):
        self.regions.close()
