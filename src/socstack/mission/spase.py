"""SPASE's words for what a parameter measures, checked when a mission loads.

Why here and not in ``export``: a SPASE ``Parameter`` must say what it is (a field, a
particle quantity, a wave, a mixed quantity or support data), and a registry refuses a
term outside SPASE's enumerations. Checking the YAML's ``spase:`` at load turns a typo
into a clear error before any export runs. The terms are SPASE base model 2.6.1's.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SpaseQuantity", "parse_spase_quantity"]

_FIELD = (
    "Current CurrentDensity Electric Electromagnetic Gyrofrequency Magnetic PlasmaFrequency"
    " Potential PoyntingFlux"
)
_PARTICLE = (
    "AdiabaticInvariant AdiabaticInvariant.MagneticMoment AdiabaticInvariant.BounceMotion"
    " AdiabaticInvariant.DriftMotion ArrivalDirection AtomicNumberDetected AverageChargeState"
    " ChargeFlux ChargeState CountRate Counts Current CurrentDensity DynamicPressure Energy"
    " Entropy EnergyDensity EnergyFlux EnergyPerCharge FlowSpeed FlowVelocity Fluence"
    " GeometricFactor Gyrofrequency HeatFlux LShell Mass MassDensity MassNumber MassPerCharge"
    " NumberDensity NumberFlux ParticleRadius ParticleRigidity PhaseSpaceDensity"
    " PlasmaFrequency Pressure SonicMachNumber SoundSpeed Temperature ThermalSpeed Velocity"
)
_PARTICLE_TYPES = (
    "Aerosol AlphaParticle Atom Dust Electron Ion Molecule Muon Neutron Proton Positron"
)
_SUPPORT = (
    "DataQuality Housekeeping InstrumentMode Orientation Other Positional Remark"
    " RotationMatrix SpinPeriod SpinPhase SpinRate Telemetry Temporal Velocity WebResource"
    " WebService"
)
_MIXED = (
    "AkasofuEpsilon AlfvenMachNumber AlfvenVelocity FrequencyToGyrofrequencyRatio"
    " IMFClockAngle MagnetosonicMachNumber Other PlasmaBeta SolarUVFlux TotalPressure VCrossB"
)
_WAVE = (
    "Absorption ACElectricField ACMagneticField Albedo DopplerFrequency Emissivity EnergyFlux"
    " EquivalentWidth Frequency Gyrofrequency Intensity LineDepth LowerHybridFrequency"
    " MagneticField ModeAmplitude PlasmaFrequency Polarization PoyntingFlux PropagationTime"
    " StokesParameters UpperHybridFrequency Velocity VolumeEmissionRate Wavelength"
)
#: Each kind's quantity element and its terms.
_KINDS = {
    "Field": ("FieldQuantity", frozenset(_FIELD.split())),
    "Particle": ("ParticleQuantity", frozenset(_PARTICLE.split())),
    "Wave": ("WaveQuantity", frozenset(_WAVE.split())),
    "Mixed": ("MixedQuantity", frozenset(_MIXED.split())),
    "Support": ("SupportQuantity", frozenset(_SUPPORT.split())),
}
_TYPES = frozenset(_PARTICLE_TYPES.split())


@dataclass(frozen=True)
class SpaseQuantity:
    """A parameter's SPASE kind (``Field``...), its quantity, and a particle's type."""

    kind: str
    quantity: str
    particle_type: str | None = None

    @property
    def element(self) -> str:
        """The quantity's element name within the kind (``FieldQuantity``...)."""
        return _KINDS[self.kind][0]


def parse_spase_quantity(text: str) -> SpaseQuantity:
    """``Kind:Quantity``, or ``Particle:Type:Quantity``; ValueError names what is wrong."""
    parts = [p.strip() for p in text.split(":")]
    kind = parts[0]
    if kind not in _KINDS:
        raise ValueError(f"spase {text!r}: the kind is one of {', '.join(_KINDS)}")
    if kind == "Particle":
        if len(parts) != 3:
            raise ValueError(f"spase {text!r}: a particle quantity is Particle:Type:Quantity")
        if parts[1] not in _TYPES:
            raise ValueError(f"spase {text!r}: the particle type is one of {sorted(_TYPES)}")
        found = SpaseQuantity(kind, parts[2], parts[1])
    elif len(parts) != 2:
        raise ValueError(f"spase {text!r}: write {kind}:Quantity")
    else:
        found = SpaseQuantity(kind, parts[1])
    terms = _KINDS[kind][1]
    if found.quantity not in terms:
        raise ValueError(f"spase {text!r}: a {kind} quantity is one of {sorted(terms)}")
    return found
