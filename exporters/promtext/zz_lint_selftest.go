package promtext

import "github.com/fleetscope/fleetscope/collectors/cgroups"

var _ = cgroups.HaveCPU
