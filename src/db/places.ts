// Where an organization's data lives: its shard's region (the catalog's `shards` row), read with the
// organization on every access, so that its Durable Objects and R2 objects go where its rows are.
import { eq } from 'drizzle-orm';
import { organizations, shards } from './catalog';
import type { DataRegion } from './enums';

/** The organization as placement sees it; null for a shard without a `shards` row. */
export type Placed = { data_region: DataRegion | null };
/** An organization whose objects are named by its id and placed by its region. */
export type OrganizationPlace = Placed & { id: string };

export type Placement = { locationHint?: DurableObjectLocationHint; jurisdiction?: DurableObjectJurisdiction };

/** Joins an organization's shard row, for its region: `.leftJoin(shards, organizationShard)`. */
export const organizationShard = eq(shards.shard, organizations.shard);

/** Where the organization's objects belong: near its shard, or inside its shard's jurisdiction. */
export function placementOf(organization: Placed): Placement {
  const region = organization.data_region;
  if (!region) return {};
  return region === 'eu' ? { jurisdiction: 'eu' } : { locationHint: region };
}

/** DO_JURISDICTIONS=off where workerd runs (dev, tests): it throws on namespace.jurisdiction(). */
type PlacementEnv = { DO_JURISDICTIONS?: string };

/**
 * The organization's Durable Object `name` of `namespace`: inside its jurisdiction, created near
 * its shard. A location hint only applies when the object is first created; an object of another
 * jurisdiction is another object (the same name gives another id).
 */
export function placedObject<T extends Rpc.DurableObjectBranded | undefined>(
  env: PlacementEnv,
  namespace: DurableObjectNamespace<T>,
  organization: Placed,
  name: string,
): DurableObjectStub<T> {
  const { locationHint, jurisdiction } = placementOf(organization);
  const scoped = jurisdiction && env.DO_JURISDICTIONS !== 'off' ? namespace.jurisdiction(jurisdiction) : namespace;
  return scoped.get(scoped.idFromName(name), locationHint ? { locationHint } : undefined);
}

/** The bucket of the organization's assets: ASSETS_EU (bound to the EU jurisdiction) for an `eu` organization. */
export const assetsBucket = (env: { ASSETS: R2Bucket; ASSETS_EU: R2Bucket }, organization: Placed): R2Bucket =>
  placementOf(organization).jurisdiction === 'eu' ? env.ASSETS_EU : env.ASSETS;

/** The regions a new organization may take by default, nearest first: never `eu`, which is asked for. */
const NEARBY: Record<Exclude<DataRegion, 'eu'>, Exclude<DataRegion, 'eu'>[]> = {
  wnam: ['wnam', 'enam', 'apac', 'oc', 'weur', 'eeur'],
  enam: ['enam', 'wnam', 'weur', 'eeur', 'apac', 'oc'],
  weur: ['weur', 'eeur', 'enam', 'wnam', 'apac', 'oc'],
  eeur: ['eeur', 'weur', 'enam', 'apac', 'wnam', 'oc'],
  apac: ['apac', 'oc', 'wnam', 'eeur', 'enam', 'weur'],
  oc: ['oc', 'apac', 'wnam', 'enam', 'eeur', 'weur'],
};

const isRegion = (value: unknown): value is Exclude<DataRegion, 'eu'> => typeof value === 'string' && value in NEARBY;

type RequestPlace = Partial<Pick<IncomingRequestCfProperties, 'continent' | 'longitude'>>;

/** The region nearest a request, from `request.cf` (continent, and longitude within North America and Europe). */
function nearestRegion(cf: RequestPlace | undefined): Exclude<DataRegion, 'eu'> | null {
  const longitude = Number(cf?.longitude);
  switch (cf?.continent) {
    case 'NA':
      return longitude < -100 ? 'wnam' : 'enam';
    case 'SA':
      return 'enam';
    case 'EU':
      return longitude >= 20 ? 'eeur' : 'weur';
    case 'AF':
      return 'weur';
    case 'AS':
      return 'apac';
    case 'OC':
    case 'AN':
      return 'oc';
    default:
      return null;
  }
}

/**
 * The regions a new organization may be placed in, in order of preference: the one asked for
 * alone, else those nearest the request (DEFAULT_DATA_REGION's when `cf` says nothing).
 */
export function regionsFor(
  asked: DataRegion | undefined,
  cf: RequestPlace | undefined,
  defaultRegion: string | undefined,
): readonly DataRegion[] {
  if (asked) return [asked];
  const near = nearestRegion(cf) ?? (isRegion(defaultRegion) ? defaultRegion : 'enam');
  return NEARBY[near];
}
