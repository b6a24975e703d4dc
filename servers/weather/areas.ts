/**
 * The areas `GET /alerts/active?area=` accepts for a state or territory: the `StateTerritoryCode`
 * enum of the NWS OpenAPI (v1.9.0), i.e. the 50 states, DC and the territories AS, GU, PR and VI.
 * The Northern Mariana Islands (MP) and the minor outlying islands (UM) are not in that enum, so
 * they are not offered here. Marine area codes (AM, AN, GM, …) are out of scope for this tool.
 */
export const STATE_TERRITORY_NAMES: Readonly<Record<string, string>> = Object.freeze({
  AL: 'Alabama',
  AK: 'Alaska',
  AS: 'American Samoa',
  AR: 'Arkansas',
  AZ: 'Arizona',
  CA: 'California',
  CO: 'Colorado',
  CT: 'Connecticut',
  DE: 'Delaware',
  DC: 'District of Columbia',
  FL: 'Florida',
  GA: 'Georgia',
  GU: 'Guam',
  HI: 'Hawaii',
  ID: 'Idaho',
  IL: 'Illinois',
  IN: 'Indiana',
  IA: 'Iowa',
  KS: 'Kansas',
  KY: 'Kentucky',
  LA: 'Louisiana',
  ME: 'Maine',
  MD: 'Maryland',
  MA: 'Massachusetts',
  MI: 'Michigan',
  MN: 'Minnesota',
  MS: 'Mississippi',
  MO: 'Missouri',
  MT: 'Montana',
  NE: 'Nebraska',
  NV: 'Nevada',
  NH: 'New Hampshire',
  NJ: 'New Jersey',
  NM: 'New Mexico',
  NY: 'New York',
  NC: 'North Carolina',
  ND: 'North Dakota',
  OH: 'Ohio',
  OK: 'Oklahoma',
  OR: 'Oregon',
  PA: 'Pennsylvania',
  PR: 'Puerto Rico',
  RI: 'Rhode Island',
  SC: 'South Carolina',
  SD: 'South Dakota',
  TN: 'Tennessee',
  TX: 'Texas',
  UT: 'Utah',
  VT: 'Vermont',
  VI: 'U.S. Virgin Islands',
  VA: 'Virginia',
  WA: 'Washington',
  WV: 'West Virginia',
  WI: 'Wisconsin',
  WY: 'Wyoming',
});

/** A state or territory code, upper case, known to NWS. */
export interface StateTerritory {
  readonly code: string;
  readonly name: string;
}

/**
 * Looks up a two-letter code, ignoring case and surrounding blanks.
 *
 * @returns the area, or `undefined` when NWS does not know the code as a state or territory.
 * @example
 * ```ts
 * findStateTerritory(' pa ') // { code: 'PA', name: 'Pennsylvania' }
 * findStateTerritory('XX')   // undefined
 * ```
 */
export function findStateTerritory(input: string): StateTerritory | undefined {
  const code = input.trim().toUpperCase();
  const name = Object.hasOwn(STATE_TERRITORY_NAMES, code) ? STATE_TERRITORY_NAMES[code] : undefined;
  return name === undefined ? undefined : { code, name };
}

/** One line naming what is accepted, for the error a wrong code gets. */
export const VALID_AREAS_HINT = 'Use a two-letter USPS code: one of the 50 states, DC, or the territories AS, GU, PR, VI.';
