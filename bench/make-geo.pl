#!/usr/bin/perl
# Writes the benchmark's geo database: a GeoIP2-City-shaped MaxMind DB with many networks
# spread over the world, so that GSLB queries exercise a real-sized lookup tree and every
# client subnet of the query files lands somewhere different. Deterministic: the same seed
# gives the same networks, records and query files on any machine (only the build time in
# the database's metadata differs), so runs on different machines are comparable.
#
# usage: make-geo.pl OUTDIR [SEED]
# writes, in OUTDIR, the database and the query files that go with it:
#   geo.mmdb        the database (Debian's libmaxmind-db-writer-perl)
#   networks.tsv    one line per network: net prefix cc continent lat lon near margin cc_near
#                   near     = the data center nearest the record's own coordinates
#                   margin   = (2nd distance - 1st distance) / 1st distance: how clear that is
#                   cc_near  = the data center nearest the record's country (what a
#                              country-keyed server such as the PowerDNS GeoIP backend picks)
#   countries.tsv   cc continent near: the country -> data center table for PowerDNS
#   q/static.txt    static.example.test A
#   q/gslb.txt      www.example.test A (no ECS: the resolver's loopback address decides)
#   q/gslb-ecs.txt  www.example.test A ADDR/PREFIX, 20000 lines, a client subnet (/24 or
#                   /56) from a random network of the database on each
#   q/mix.txt       45% static, 45% www with ECS, 5% SOA, 5% NXDOMAIN (distinct names)
#   q/check.tsv     subnet and expected data center, for networks where every server should
#                   agree (nearest by a clear margin, and the same by country)
# Networks: ~2000 IPv4 /24s and ~1000 IPv4 /20s (each in its own /20 block, so none
# overlaps) and ~500 IPv6 /32s, each placed around one of 75 cities with a few degrees of
# jitter. Also, so that the servers' own lookups make sense:
#   127.0.0.0/8, ::1    -> Frankfurt: the resolver address of queries without ECS (loopback)
#   192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 -> exactly the three data centers: PowerDNS's
#                          LUA pickclosest() locates each candidate ADDRESS in the database.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $dir = shift or die "usage: $0 OUTDIR [SEED]\n";
my $seed = shift // 20240601;

# The benchmark's data centers (the same figures are in the gdnsd, PowerDNS and Meridian
# configurations written by setup.sh).
my %dc = (eu => [50.11, 8.68], us => [39.04, -77.49], ap => [1.35, 103.82]);
my @dcs = qw(eu us ap);

# cc, country, continent, city, lat, lon. Several cities for large countries, so that a
# country is not a single point; continents as MaxMind assigns them (Turkey, the Gulf: AS).
my @cities = map { [split /\|/] } split /\n/, <<'EOF';
DE|Germany|EU|Frankfurt|50.11|8.68
DE|Germany|EU|Berlin|52.52|13.40
GB|United Kingdom|EU|London|51.51|-0.13
GB|United Kingdom|EU|Manchester|53.48|-2.24
FR|France|EU|Paris|48.86|2.35
FR|France|EU|Marseille|43.30|5.37
NL|Netherlands|EU|Amsterdam|52.37|4.90
ES|Spain|EU|Madrid|40.42|-3.70
IT|Italy|EU|Milan|45.46|9.19
IT|Italy|EU|Rome|41.90|12.50
PL|Poland|EU|Warsaw|52.23|21.01
SE|Sweden|EU|Stockholm|59.33|18.07
FI|Finland|EU|Helsinki|60.17|24.94
NO|Norway|EU|Oslo|59.91|10.75
RU|Russia|EU|Moscow|55.76|37.62
RU|Russia|EU|Saint Petersburg|59.94|30.31
UA|Ukraine|EU|Kyiv|50.45|30.52
RO|Romania|EU|Bucharest|44.43|26.10
GR|Greece|EU|Athens|37.98|23.73
PT|Portugal|EU|Lisbon|38.72|-9.14
IE|Ireland|EU|Dublin|53.35|-6.26
CH|Switzerland|EU|Zurich|47.38|8.54
AT|Austria|EU|Vienna|48.21|16.37
CZ|Czechia|EU|Prague|50.08|14.44
US|United States|NA|New York|40.71|-74.01
US|United States|NA|Ashburn|39.04|-77.49
US|United States|NA|Chicago|41.88|-87.63
US|United States|NA|Dallas|32.78|-96.80
US|United States|NA|Denver|39.74|-104.99
US|United States|NA|Los Angeles|34.05|-118.24
US|United States|NA|Seattle|47.61|-122.33
US|United States|NA|Miami|25.76|-80.19
US|United States|NA|Atlanta|33.75|-84.39
CA|Canada|NA|Toronto|43.65|-79.38
CA|Canada|NA|Montreal|45.50|-73.57
CA|Canada|NA|Vancouver|49.28|-123.12
MX|Mexico|NA|Mexico City|19.43|-99.13
PA|Panama|NA|Panama City|8.98|-79.52
BR|Brazil|SA|Sao Paulo|-23.55|-46.63
BR|Brazil|SA|Rio de Janeiro|-22.91|-43.17
AR|Argentina|SA|Buenos Aires|-34.60|-58.38
CL|Chile|SA|Santiago|-33.45|-70.67
CO|Colombia|SA|Bogota|4.71|-74.07
PE|Peru|SA|Lima|-12.05|-77.04
JP|Japan|AS|Tokyo|35.69|139.69
JP|Japan|AS|Osaka|34.69|135.50
KR|South Korea|AS|Seoul|37.57|126.98
CN|China|AS|Beijing|39.90|116.41
CN|China|AS|Shanghai|31.23|121.47
CN|China|AS|Shenzhen|22.54|114.06
HK|Hong Kong|AS|Hong Kong|22.32|114.17
TW|Taiwan|AS|Taipei|25.03|121.57
SG|Singapore|AS|Singapore|1.35|103.82
IN|India|AS|Mumbai|19.08|72.88
IN|India|AS|Delhi|28.61|77.21
IN|India|AS|Bangalore|12.97|77.59
IN|India|AS|Chennai|13.08|80.27
ID|Indonesia|AS|Jakarta|-6.21|106.85
TH|Thailand|AS|Bangkok|13.76|100.50
VN|Vietnam|AS|Hanoi|21.03|105.85
PH|Philippines|AS|Manila|14.60|120.98
MY|Malaysia|AS|Kuala Lumpur|3.14|101.69
AE|United Arab Emirates|AS|Dubai|25.20|55.27
SA|Saudi Arabia|AS|Riyadh|24.71|46.68
IL|Israel|AS|Tel Aviv|32.09|34.78
TR|Turkey|AS|Istanbul|41.01|28.98
AU|Australia|OC|Sydney|-33.87|151.21
AU|Australia|OC|Melbourne|-37.81|144.96
AU|Australia|OC|Perth|-31.95|115.86
NZ|New Zealand|OC|Auckland|-36.85|174.76
ZA|South Africa|AF|Johannesburg|-26.20|28.05
NG|Nigeria|AF|Lagos|6.52|3.38
EG|Egypt|AF|Cairo|30.04|31.24
KE|Kenya|AF|Nairobi|-1.29|36.82
MA|Morocco|AF|Casablanca|33.57|-7.59
EOF

my %continent_name = (EU => 'Europe', NA => 'North America', SA => 'South America',
  AS => 'Asia', OC => 'Oceania', AF => 'Africa', AN => 'Antarctica');
# Stable made-up geoname ids: continents 6255140+, countries 1000000 + index.
my %continent_gid = (AF => 6255146, AS => 6255147, EU => 6255148, NA => 6255149,
  OC => 6255151, SA => 6255150, AN => 6255152);

# A small deterministic generator (Park-Miller "minimal standard", all products below 2^47 so
# exact in Perl's integers), so that no Perl version or platform changes the database.
my $state = 1 + ($seed % 2147483646);
sub rnd {    # uniform in [0, 1)
  $state = ($state * 48271) % 2147483647;
  return ($state - 1) / 2147483646;
}
sub rint { my $n = shift; return int(rnd() * $n); }

# Great-circle distance in km (haversine), as gdnsd and Meridian compute it.
sub dist {
  my ($la1, $lo1, $la2, $lo2) = @_;
  my $r = 3.14159265358979 / 180;
  my $a = sin(($la2 - $la1) * $r / 2)**2 + cos($la1 * $r) * cos($la2 * $r) * sin(($lo2 - $lo1) * $r / 2)**2;
  return 2 * 6371 * atan2(sqrt($a), sqrt(1 - $a));
}
sub nearest {    # (dc, margin)
  my ($lat, $lon) = @_;
  my @d = sort { $a->[1] <=> $b->[1] } map { [$_, dist($lat, $lon, @{ $dc{$_} })] } @dcs;
  return ($d[0][0], $d[0][1] > 0 ? ($d[1][1] - $d[0][1]) / $d[0][1] : 99);
}

my %types = (
  city => 'map', continent => 'map', country => 'map', location => 'map',
  registered_country => 'map', names => 'map', en => 'utf8_string',
  code => 'utf8_string', iso_code => 'utf8_string', geoname_id => 'uint32',
  latitude => 'double', longitude => 'double', accuracy_radius => 'uint16',
);
my $tree = MaxMind::DB::Writer::Tree->new(
  ip_version => 6, record_size => 28, database_type => 'GeoIP2-City',
  languages => ['en'], description => { en => 'Meridian benchmark geo database (synthetic)' },
  map_key_type_callback => sub { $types{ $_[0] } // die "no type for $_[0]\n" },
  remove_reserved_networks => 0, alias_ipv6_to_ipv4 => 1,
);

# Country codes in a stable order, with the index used for ids.
my (%cc_idx, %cc_point);
for my $c (@cities) {
  $cc_idx{ $c->[0] } //= scalar keys %cc_idx;
  $cc_point{ $c->[0] } //= [$c->[4], $c->[5]];    # the first city stands for the country
}
sub record {
  my ($c, $lat, $lon, $radius) = @_;
  my ($cc, $cname, $cont, $city) = @$c;
  my $gid = 1000000 + 100 * $cc_idx{$cc};
  my $country = { iso_code => $cc, geoname_id => $gid, names => { en => $cname } };
  return {
    continent => { code => $cont, geoname_id => $continent_gid{$cont}, names => { en => $continent_name{$cont} } },
    country => $country,
    registered_country => $country,
    city => { geoname_id => $gid + 1 + (abs(int($lat * 7 + $lon * 3)) % 97), names => { en => $city } },
    location => { latitude => 0 + sprintf('%.4f', $lat), longitude => 0 + sprintf('%.4f', $lon),
                  accuracy_radius => $radius },
  };
}

open my $nets, '>', "$dir/networks.tsv" or die "$dir/networks.tsv: $!";
print $nets "# net\tprefix\tcc\tcontinent\tlat\tlon\tnear\tmargin\tcc_near\n";
sub place {
  my ($net, $plen, $v6) = @_;
  my $c = $cities[rint(scalar @cities)];
  my $lat = $c->[4] + (rnd() - 0.5) * 3;    # +-1.5 degrees around the city
  my $lon = $c->[5] + (rnd() - 0.5) * 3;
  $lat = 89 if $lat > 89;
  $lat = -89 if $lat < -89;
  $lon -= 360 if $lon > 180;
  $lon += 360 if $lon < -180;
  $tree->insert_network(($v6 ? '' : '::') . "$net/" . ($v6 ? $plen : $plen + 96), record($c, $lat, $lon, 20 + rint(200)));
  my ($near, $margin) = nearest($lat, $lon);
  my ($cc_near) = nearest(@{ $cc_point{ $c->[0] } });
  printf $nets "%s\t%d\t%s\t%s\t%.4f\t%.4f\t%s\t%.3f\t%s\n", $net, $plen, $c->[0], $c->[2], $lat, $lon, $near, $margin, $cc_near;
}

# IPv4: distinct /20 blocks from unicast space outside the special-purpose ranges; one
# network per block, a /24 (two in three) or the whole /20.
my %used;
my $v4 = 0;
while ($v4 < 3000) {
  my $a = 1 + rint(223);
  next if $a == 10 || $a == 100 || $a == 127 || $a == 169 || $a == 172 || $a == 192 || $a == 198 || $a == 203;
  my $b = rint(256);
  my $c = rint(16) * 16;    # /20 boundary
  next if $used{"$a.$b.$c"}++;
  if (rint(3) < 2) { place("$a.$b." . ($c + rint(16)) . '.0', 24, 0) }
  else             { place("$a.$b.$c.0", 20, 0) }
  $v4++;
}
# IPv6: /32s whose first group is 2400-2bff (space the regional registries hand out).
my $v6 = 0;
while ($v6 < 500) {
  my $p = sprintf('%x:%x::', 0x2400 + rint(0x800), rint(0x10000));
  next if $used{$p}++;
  place($p, 32, 1);
  $v6++;
}
close $nets;

# Fixed networks (see the header).
my ($fra) = grep { $_->[3] eq 'Frankfurt' } @cities;
$tree->insert_network($_, record($fra, 50.11, 8.68, 10)) for qw(::127.0.0.0/104 ::1/128);
$tree->insert_network('::192.0.2.0/120', record($fra, @{ $dc{eu} }, 10));
$tree->insert_network('::198.51.100.0/120',
  record((grep { $_->[3] eq 'Ashburn' } @cities)[0], @{ $dc{us} }, 10));
$tree->insert_network('::203.0.113.0/120', record((grep { $_->[3] eq 'Singapore' } @cities)[0], @{ $dc{ap} }, 10));

open my $cfh, '>', "$dir/countries.tsv" or die "$dir/countries.tsv: $!";
my %cont_of = map { $_->[0] => $_->[2] } @cities;
for my $cc (sort keys %cc_point) {
  my ($near) = nearest(@{ $cc_point{$cc} });
  print $cfh "$cc\t$cont_of{$cc}\t$near\n";
}
close $cfh;

# ---- query files (the load generator's format: NAME TYPE [ADDR/PREFIX]) ----
open my $nin, '<', "$dir/networks.tsv" or die "$dir/networks.tsv: $!";
my @net = map { [split /\t/] } grep { !/^#/ } <$nin>;
close $nin;
chomp $_->[-1] for @net;
# A client subnet inside network $n: a /24 (IPv4; any of the 16 of a /20) or a /56 (IPv6).
sub subnet {
  my $n = shift;
  my ($addr, $plen) = @$n;
  if ($addr =~ /:/) {
    my ($h1, $h2) = split /:/, $addr;
    return sprintf('%s:%s:%x:%x00::/56', $h1, $h2, rint(0x10000), rint(0x100));
  }
  my @o = split /\./, $addr;
  $o[2] += rint(16) if $plen == 20;
  return "$o[0].$o[1].$o[2].0/24";
}
mkdir "$dir/q";
sub wfile { my ($f, @l) = @_; open my $o, '>', "$dir/q/$f" or die "$f: $!"; print $o map {"$_\n"} @l; close $o; }
wfile('static.txt', 'static.example.test A');
wfile('gslb.txt', 'www.example.test A');
wfile('gslb-ecs.txt', map { 'www.example.test A ' . subnet($net[rint(scalar @net)]) } 1 .. 20000);
my @mix;
for my $i (1 .. 20000) {
  my $r = rint(100);
  push @mix, $r < 45 ? 'static.example.test A'
           : $r < 90 ? 'www.example.test A ' . subnet($net[rint(scalar @net)])
           : $r < 95 ? 'example.test SOA'
           :           "nx$i.example.test A";
}
wfile('mix.txt', @mix);
# Correctness samples: clear winners whose country agrees, both families.
my @clear = grep { $_->[7] >= 0.2 && $_->[6] eq $_->[8] } @net;
my %seen;
my @check;
for my $n (@clear) {
  my $key = $n->[6] . ($n->[0] =~ /:/ ? 6 : 4);
  next if ($seen{$key} // 0) >= 6;
  $seen{$key}++;
  push @check, subnet($n) . "\t$n->[6]\t$n->[2]";
}
wfile('check.tsv', @check);

open my $fh, '>:raw', "$dir/geo.mmdb" or die "$dir/geo.mmdb: $!";
$tree->write_tree($fh);
close $fh;
print STDERR "make-geo.pl: wrote $dir/geo.mmdb ($v4 IPv4 + $v6 IPv6 networks), networks.tsv, countries.tsv\n";
