package vm

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// VirtioPort is the name of the agent's virtio console port.
const VirtioPort = "kmodgrade.agent"

// Channel is what a guest needs for the agent's channel to be a virtio
// console port rather than the second serial port: the drivers of virtio
// on PCI and of the console port, as module files in load order, or none
// where the kernel has them built in. A virtio port moves each frame in one
// transfer; the serial port a byte at a time, several times slower under
// TCG.
type Channel struct {
	Modules []string
}

// channelDrivers are the kernel options of the channel's drivers, with
// their modules' names.
var channelDrivers = []struct{ option, module string }{
	{"CONFIG_VIRTIO_PCI", "virtio_pci"},
	{"CONFIG_VIRTIO_CONSOLE", "virtio_console"},
}

// FindChannel finds the drivers of the virtio channel for a kernel whose
// kbuild tree is headers and whose modules folder is modules (laid out as
// /lib/modules/<release> is; it may be empty when the drivers are built in).
func FindChannel(headers, modules string) (*Channel, error) {
	config, err := readConfig(filepath.Join(headers, "include", "config", "auto.conf"))
	if err != nil {
		return nil, err
	}
	var wanted []string
	for _, d := range channelDrivers {
		switch config[d.option] {
		case "y":
		case "m":
			wanted = append(wanted, d.module)
		default:
			return nil, fmt.Errorf("the kernel has no %s driver (%s is not set)", d.module, d.option)
		}
	}
	if len(wanted) == 0 {
		return &Channel{}, nil
	}
	if modules == "" {
		return nil, fmt.Errorf("%s are modules, and there is no modules folder for the kernel", strings.Join(wanted, " and "))
	}
	files, err := moduleFiles(modules)
	if err != nil {
		return nil, err
	}
	c := &Channel{}
	seen := map[string]bool{}
	var add func(name string, from []string) error
	add = func(name string, from []string) error {
		name = strings.ReplaceAll(name, "-", "_")
		if seen[name] {
			return nil
		}
		if len(from) > 8 {
			return fmt.Errorf("the dependencies of %s go round: %s", name, strings.Join(from, " <- "))
		}
		path, ok := files[name]
		if !ok {
			if _, ok := files[name+"(compressed)"]; ok {
				return fmt.Errorf("module %s is compressed, which the grader cannot read", name)
			}
			return fmt.Errorf("module %s is not in %s", name, modules)
		}
		deps, err := moduleDepends(path)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := add(d, append(from, name)); err != nil {
				return err
			}
		}
		seen[name] = true
		c.Modules = append(c.Modules, path)
		return nil
	}
	for _, m := range wanted {
		if err := add(m, nil); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// readConfig reads a kbuild auto.conf: CONFIG_X=y lines.
func readConfig(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read the kernel's configuration: %w", err)
	}
	defer f.Close()
	config := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.HasPrefix(k, "CONFIG_") {
			config[k] = v
		}
	}
	return config, sc.Err()
}

// moduleFiles indexes the module files under a modules folder by module
// name (a dash read as an underscore, as the kernel does). Compressed ones
// are marked so, to be named in the error.
func moduleFiles(modules string) (map[string]string, error) {
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(modules, "kernel"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		key := ""
		switch {
		case strings.HasSuffix(name, ".ko"):
			key = strings.TrimSuffix(name, ".ko")
		case strings.Contains(name, ".ko."):
			key = name[:strings.Index(name, ".ko.")] + "(compressed)"
		default:
			return nil
		}
		files[strings.ReplaceAll(key, "-", "_")] = path
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list the kernel's modules: %w", err)
	}
	return files, nil
}

// moduleDepends reads the modules a module needs from its .modinfo.
func moduleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read module %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s has no .modinfo", path)
	}
	info, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, field := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(field, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}
