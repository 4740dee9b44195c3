package deployment

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
)

// FromOutputsFile reads the file `cdk deploy --outputs-file` writes ({"StackName":
// {"OutputKey": "value"}}, only stacks that have outputs) and finds deployment name in it (any
// name when name is "" and the file holds one deployment). Every stack whose outputs the tools
// read (control, member Regions, deciders) must be in the file.
func FromOutputsFile(path, name string) (Deployment, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Deployment{}, fmt.Errorf("outputs file: %w", err)
	}
	var file map[string]map[string]string
	if err := json.Unmarshal(raw, &file); err != nil {
		return Deployment{}, fmt.Errorf("outputs file %s is not the JSON cdk deploy --outputs-file writes ({\"Stack\": {\"Output\": \"value\"}}): %w", path, err)
	}
	d, err := fromOutputs(file, name)
	if err != nil {
		return Deployment{}, fmt.Errorf("outputs file %s: %w", path, err)
	}
	d.Source = "outputs file " + path
	return d, nil
}

// fromOutputs finds the control stack of name among the stacks' outputs, then the others.
func fromOutputs(file map[string]map[string]string, name string) (Deployment, error) {
	control, err := controlOf(file, name)
	if err != nil {
		return Deployment{}, err
	}
	d, err := fromControl(control)
	if err != nil {
		return Deployment{}, err
	}
	var missing []StackRef
	for _, ref := range d.Settings.Stacks {
		outs, ok := file[ref.Name]
		if !ok && len(requiredOutputs[ref.Role]) == 0 {
			continue // the CDK CLI leaves stacks without outputs (probe, witness, relay) out of the file
		}
		if !ok {
			missing = append(missing, ref)
			continue
		}
		s := Stack{StackRef: ref, Outputs: outs}
		if err := checkOutputs(s); err != nil {
			return Deployment{}, err
		}
		d.Stacks = append(d.Stacks, s)
	}
	if len(missing) > 0 {
		return Deployment{}, fmt.Errorf("no outputs of %s (deploy every stack with cdk deploy --all --outputs-file FILE): %w",
			strings.Join(names(missing), ", "), ErrStackNotFound)
	}
	return d, nil
}

// controlOf picks the stack whose settings name deployment name (or the only one).
func controlOf(file map[string]map[string]string, name string) (Stack, error) {
	var found []string
	var match []Stack
	for _, stack := range slices.Sorted(maps.Keys(file)) {
		outs := file[stack]
		v, ok := outs[OutputSettings]
		if !ok {
			continue
		}
		st, err := ParseSettings(v)
		if err != nil {
			return Stack{}, fmt.Errorf("stack %s: %w", stack, err)
		}
		found = append(found, st.Name)
		if name == "" || st.Name == name {
			match = append(match, Stack{StackRef: StackRef{Name: stack, Region: st.Home, Role: RoleControl}, Outputs: outs})
		}
	}
	switch {
	case len(found) == 0:
		return Stack{}, fmt.Errorf("no stack with output %s (the control stack of an engine deployed by this version; an older one: redeploy with cdk deploy): %w", OutputSettings, ErrOutdated)
	case len(match) == 1:
		return match[0], nil
	case len(match) > 1:
		return Stack{}, fmt.Errorf("the file holds several deployments (%s): pass --name", strings.Join(found, ", "))
	}
	return Stack{}, fmt.Errorf("no deployment %q (the file holds %s): %w", name, strings.Join(found, ", "), ErrStackNotFound)
}
