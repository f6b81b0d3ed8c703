"""SynthEO: procedural Sentinel-2-like scenes written in real dataset layouts.

SynthEO makes every part of dtcd runnable offline. A scene is painted on a high-resolution (HR)
grid, four times finer than Sentinel-2's 10 m, as a map of *objects* (fields, houses, roads,
rivers), each made of one :data:`MATERIALS` entry with its own spectral variation. The 13-band
Sentinel-2 L1C image is the HR surface averaged to 10 m pixels (so pixels mix covers), seen
through a simple atmosphere (path radiance, band transmittance, a cirrus veil in B10), blurred
to each band's native 20 m / 60 m ground sampling and quantised to digital numbers
(reflectance × 10000, uint16). The paired HR RGB, like the fMoW-RGB images DEO pairs with
Sentinel-2, is the same scene at 2.5 m with its finer detail.

Multispectral information matters by design: each pair in :data:`RGB_TWINS` has identical
visible reflectance but differs in the red edge, NIR or SWIR (lush pasture vs. natural meadow,
annual crop vs. orchard canopy, concrete vs. metal roofs), so EuroSAT's AnnualCrop /
PermanentCrop are hard to tell apart from RGB alone, and the mixes of materials inside scenes and
segmentation maps carry more in MS than in RGB.

Spatial structure matters too (SynthEO v2): Pasture / HerbaceousVegetation, Residential /
Industrial and River / SeaLake draw materials and shares from one distribution and differ only in
arrangement (:mod:`dtcd.data.synthetic.recipes`), so the mean spectrum cannot tell them apart.

Every output is deterministic for a seed: each scene draws from its own
``numpy.random.default_rng([seed, dataset, index])`` and the writers store no timestamps.

The package, one concept per module (each imports only those above it):

    materials    :class:`Material`, :data:`MATERIALS`, :data:`RGB_TWINS` and their spectra
    grid         the HR grid: noise fields, geometry, HR to 10 m resampling (:data:`HR_FACTOR`)
    scene        the object canvas and the primitives that paint it
    recipes      scene recipes: one per EuroSAT class, plus a mixed landscape
    sensor       surface to Sentinel-2 digital numbers and the HR RGB
    change       bi-temporal scene pairs for OSCD
    writers      the on-disk writers, one per layout, and their encodings
    generation   :class:`Preset`, :data:`PRESETS` and :func:`generate`
    truth        scenes with their material shares, for the stand-in optical teacher

On-disk layout under the output directory (the first two are the real layouts TorchGeo reads)::

    eurosat/                                       torchgeo.datasets.EuroSAT(root=...)
        eurosat-{train,val,test}.txt               file names, one per line (AnnualCrop_1.jpg)
        ds/images/remote_sensing/otherDatasets/sentinel_2/tif/<Class>/<Class>_<i>.tif
                                                   64x64 uint16, 13 bands in EuroSAT order
                                                   (B01..B12, B8A last)
    oscd/                                          torchgeo.datasets.OSCD(root=..., split=...)
        Onera Satellite Change Detection dataset - Images/
            {train,test}.txt                       comma-separated region names
            <region>/dates.txt                     'date_1: YYYYMMDD' and 'date_2: YYYYMMDD'
            <region>/imgs_{1,2}_rect/<band>.tif    one uint16 GeoTIFF per band, B01.tif..B12.tif
        Onera Satellite Change Detection dataset - {Train,Test} Labels/
            <region>/cm/cm.png                     8-bit, 255 = change, 0 = no change
    segmentation/                                  dtcd.data.SynthEOSegmentation
        {train,val,test}/images/<id>.tif           uint16, 13 bands in L1C order (B8A after B08),
                                                   band names stored as band descriptions
        {train,val,test}/masks/<id>.tif            uint8 land-cover ids (LAND_COVER_CLASSES)
    pretrain/                                      dtcd.data.PairedMSRGB
        index.csv                                  columns id, ms, rgb (paths relative to pretrain/)
        ms/<id>.tif                                uint16, 13 bands in L1C order, described
        rgb/<id>.png                               uint8 RGB at 4x the MS resolution

How the HR RGB and GeoTIFFs are encoded: :mod:`dtcd.data.synthetic.writers`.
"""

from dtcd.data.synthetic.generation import PRESETS, Preset, SynthEOSummary, generate
from dtcd.data.synthetic.grid import HR_FACTOR
from dtcd.data.synthetic.materials import MATERIALS, RGB_TWINS, Material
from dtcd.data.synthetic.writers import DatasetSummary

__all__ = [
    'HR_FACTOR',
    'MATERIALS',
    'PRESETS',
    'RGB_TWINS',
    'DatasetSummary',
    'Material',
    'Preset',
    'SynthEOSummary',
    'generate',
]
