"""Instances as LXD derives them: expanded config and devices, volatile keys, names, filters.

lxdsite runs no containers: an instance is its configuration and a recorded status. What LXD
computes from the configuration (``expanded_*``, the keys it sets at creation) is computed
here the same way, so clients see what they would see on LXD.
"""

import json
import random
import re
import secrets
import uuid

from .lxd_filter import Field, Kind, column
from .models import Instance

# The relation Instance.profile_list() reads, for the expanded_* fields.
_PROFILES = ("profile_links__profile",)

# The id map LXD gives an unprivileged container on a host with the default subuid range.
_IDMAP = [
    {"Isuid": True, "Isgid": False, "Hostid": 100000, "Nsid": 0, "Maprange": 10000001},
    {"Isuid": False, "Isgid": True, "Hostid": 100000, "Nsid": 0, "Maprange": 10000001},
]


def is_volatile(key):
    """``volatile.*`` keys belong to the server: clients cannot set or remove them."""
    return key.startswith("volatile.")


def without_volatile(config):
    """The config a client controls."""
    return {key: value for key, value in config.items() if not is_volatile(key)}


def initial_volatile(image=None):
    """The ``volatile.*`` keys LXD sets when it creates a container."""
    keys = {
        "volatile.apply_template": "create",
        "volatile.cloud-init.instance-id": str(uuid.uuid4()),
        "volatile.idmap.base": "0",
        "volatile.idmap.next": json.dumps(_IDMAP, separators=(",", ":")),
        "volatile.last_state.idmap": "[]",
        "volatile.uuid": str(uuid.uuid4()),
    }
    if image is not None:
        keys["volatile.base_image"] = image.fingerprint
    return keys


def expand_config(profiles, config):
    """Profiles' config in order, then the instance's own keys (LXD's expanded_config)."""
    expanded = {}
    for profile in profiles:
        expanded.update(profile.config)
    expanded.update(config)
    return dict(sorted(expanded.items()))


def expand_devices(profiles, devices):
    """Profiles' devices in order, each replaced whole by a later one of the same name."""
    expanded = {}
    for profile in profiles:
        expanded.update(profile.devices)
    expanded.update(devices)
    return {name: dict(sorted(options.items())) for name, options in sorted(expanded.items())}


# NIC types whose MAC comes from the host's device, not from LXD (driver_lxc.go FillNetworkDevice).
_OWN_MAC_NICTYPES = ("physical", "ipvlan", "sriov")


def nic_volatile(expanded, config, nictype_of):
    """The ``volatile.NAME.hwaddr`` and ``volatile.NAME.name`` keys LXD fills in for the NICs of
    ``expanded`` devices that lack them (FillNetworkDevice): a random MAC in LXD's 00:16:3e range,
    and the first free ``ethN``. ``nictype_of(device)`` is a NIC's type (from its network)."""
    filled = {}
    taken = {device["name"] for device in expanded.values() if device.get("name")}
    taken |= {value for key, value in config.items() if is_volatile(key) and key.endswith(".name")}
    generator = random.SystemRandom()
    for name, device in sorted(expanded.items()):
        if device.get("type") != "nic":
            continue
        hwaddr_key, name_key = f"volatile.{name}.hwaddr", f"volatile.{name}.name"
        if nictype_of(device) not in _OWN_MAC_NICTYPES and not device.get("hwaddr") and not config.get(hwaddr_key):
            filled[hwaddr_key] = "00:16:3e:" + ":".join(f"{generator.randrange(256):02x}" for _ in range(3))
        if not device.get("name") and not config.get(name_key):
            interface = next(f"eth{i}" for i in range(len(taken) + 1) if f"eth{i}" not in taken)
            taken.add(interface)
            filled[name_key] = interface
    return filled


def hostname_error(name):
    """LXD's hostname rules for instance and snapshot-less names (shared/validate IsHostname)."""
    if not 1 <= len(name) <= 63:
        return "Name must be 1-63 characters long"
    if name.startswith("-"):
        return 'Name must not start with "-" character'
    if name[0].isdigit():
        return "Name must not start with a number"
    if name.endswith("-"):
        return 'Name must not end with "-" character'
    if not re.fullmatch(r"[-a-zA-Z0-9]+", name):
        return "Name can only contain alphanumeric and hyphen characters"
    return None


# Words for the names of instances created without one: LXD names them adjective-animal.
_ADJECTIVES = (  # noqa: SIM905 (a word list reads best as text)
    "able amazed amused apt awake bold brave bright busy calm careful charming civil clean clever cool "
    "cosmic crisp curious daring dear decent eager easy enabled epic equal fair famous fast fine firm fit "
    "fond free fresh full funny game gentle giving glad golden good grand great happy hardy helped heroic "
    "holy honest hopeful humble ideal intent joint just keen kind large legal liberal light live logical "
    "loved loyal lucky magical main major many massive mature mighty modern moral more natural neat "
    "needed new nice noble normal open optimal patient perfect pleasant polite precious present pretty "
    "prime profound proper proud quick quiet rapid rare ready real refined relaxed renewed resolved rich "
    "right robust safe secure select sharp shining simple smart smooth social solid special stable steady "
    "still strong summary super sure sweet tender thankful tidy tight topical touched tough true trusted "
    "unique up usable useful valid vast verified viable vital warm welcome well whole wise witty worthy"
).split()
_ANIMALS = (  # noqa: SIM905 (a word list reads best as text)
    "aardvark alpaca anchovy ant antelope ape asp baboon badger bass bat bear beetle bird bison boar "
    "bobcat buck buffalo bug bull calf camel cardinal caribou cat catfish cattle chamois cheetah chicken "
    "chimp clam cobra cod colt condor coral cougar cow coyote crab crane crow cub deer dingo dodo doe dog "
    "dolphin donkey dove drake duck eagle eel egret elk emu escargot ewe falcon fawn ferret finch fish "
    "flamingo fly fowl fox frog gannet gar gazelle gecko gibbon giraffe gnat gnu goat goblin goose gopher "
    "grouse gull haddock hare hawk hen heron hog honeybee hornet horse hound husky hyena ibex iguana "
    "impala insect jackal jaguar jay kangaroo kid kingfish kit kite kiwi koala lamb lark leech lemming "
    "lemur leopard liger lion lizard llama lobster locust loon louse lynx macaque macaw magpie mako "
    "mammal mantis marlin marmot marten martin mastiff mayfly meerkat mink minnow mole mollusk monarch "
    "mongoose monkey moose moth mouse mule mustang mutt newt octopus oriole osprey ostrich otter owl ox "
    "oyster panda panther parrot peacock pegasus pelican penguin perch pheasant pig pigeon pika pipefish "
    "platypus polecat pony porpoise possum prawn puma pup python quail rabbit raccoon ram rat raven ray "
    "redbird reindeer reptile rhino robin rodent rooster sailfish salmon sawfly seagull seal shad shark "
    "sheep shepherd shrew shrimp silkworm skink skunk sloth slug snail snake snapper snipe sole sparrow "
    "spider squid squirrel stag starfish stallion stork sturgeon swan swift tahr tapir tarpon termite "
    "tern thrush tick tiger titmouse toad tomcat tortoise toucan trout tuna turkey turtle urchin vervet "
    "viper vulture wahoo walleye walrus wasp weasel whale whippet wildcat wolf wombat worm wren yak zebra"
).split()


def generated_name(taken, tries=100):
    """A free adjective-animal name for an instance created without one, as LXD picks it (None
    when ``tries`` picks found none)."""
    taken = set(taken)
    for _ in range(tries):
        name = f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_ANIMALS)}"
        if name not in taken:
            return name
    return None


def _expanded(expand, own):
    """A filter field read as the serializer shows it: the profiles' values under the instance's own."""
    return lambda instance: expand(instance.profile_list(), getattr(instance, own))


# The fields of LXD's api.Instance a filter can name (``location`` as lxdsite shows it).
INSTANCE_FILTER_FIELDS = {
    "architecture": column(Kind.TEXT, "architecture"),
    "config": column(Kind.TEXT_MAP, "config"),
    "devices": column(Kind.DEVICE_MAP, "devices"),
    "ephemeral": column(Kind.FLAG, "ephemeral"),
    "stateful": column(Kind.FLAG, "stateful"),
    "description": column(Kind.TEXT, "description"),
    "expanded_config": Field(Kind.TEXT_MAP, _expanded(expand_config, "config"), ("config",), _PROFILES),
    "expanded_devices": Field(Kind.DEVICE_MAP, _expanded(expand_devices, "devices"), ("devices",), _PROFILES),
    "name": column(Kind.TEXT, "name"),
    "status": column(Kind.TEXT, "status"),
    "status_code": Field(Kind.NUMBER, lambda instance: Instance.STATUS_CODES[instance.status], ("status",)),
    "location": Field(Kind.TEXT, lambda instance: "none"),
    "type": column(Kind.TEXT, "type"),
    "project": Field(Kind.TEXT, lambda instance: instance.project.name, ("project",), ("project",)),
}
