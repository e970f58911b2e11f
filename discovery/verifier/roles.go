package verifier

import "slices"

// MapRoles maps roles through roleMap, an allow-list: roles it does not
// name are dropped, and several roles mapping to one come out once. An
// empty roleMap keeps roles as they are. The Verifier (Config.RoleMap) and
// Gatehouse's connectors share it, so a role map means one thing.
func MapRoles(roles []string, roleMap map[string]string) []string {
	if len(roleMap) == 0 {
		return roles
	}
	var mapped []string
	for _, role := range roles {
		if local, ok := roleMap[role]; ok && !slices.Contains(mapped, local) {
			mapped = append(mapped, local)
		}
	}
	return mapped
}

// Roles reads the roles at p in claims as the Verifier reads Config.RolesClaim:
// an array of strings or a space-separated string; a missing or null claim
// is no roles; any other value (or a non-object on the way) is an
// ErrMalformed error.
func (p ClaimPath) Roles(claims map[string]any) ([]string, error) {
	return claimRules{roles: p}.readRoles(claims)
}
