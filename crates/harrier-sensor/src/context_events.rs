//! Rendering each kind of kernel record into its event (the per-kind halves of
//! [`Context::event`]).

use super::*;

impl Context {
    /// A successful exec: the process and its ancestry are remembered, then rendered.
    pub(super) fn exec_event(&mut self, raw: &Raw) -> Option<Vec<u8>> {
        let Raw::Exec {
            h,
            filename,
            argv,
            env,
            stdin,
            stdout,
        } = raw
        else {
            return None;
        };
        let c = self.container(h.cgroup_id, h.pid);
        // fexecve and execveat(fd, "") report /dev/fd/N: the real file (a memfd,
        // say) is what /proc/<pid>/exe names.
        let exepath = if filename.starts_with('/') && !filename.starts_with("/dev/fd/") {
            normalize(filename)
        } else {
            std::fs::read_link(format!("/proc/{}/exe", h.pid))
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| self.resolve(h.pid, -100, filename))
        };
        let cwd = read_cwd(h.pid);
        let p = self.remember(
            h.pid,
            Proc {
                name: h.comm.clone(),
                exe: argv.first().cloned().unwrap_or_else(|| filename.clone()),
                exepath: exepath.clone(),
                args: argv.iter().skip(1).cloned().collect(),
                ppid: h.ppid,
                version: 0,
                cwd: cwd.clone(),
            },
        );
        let upper = c.info.is_container()
            && self
                .written
                .get(&c.info.id)
                .is_some_and(|w| w.contains(&exepath));
        let kept: Vec<(&str, String)> = env
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| KEPT_ENV.contains(k))
            .map(|(k, v)| {
                let v = if k.ends_with("_PROXY") || k.ends_with("_proxy") {
                    strip_userinfo(v)
                } else {
                    v.to_string()
                };
                (k, v)
            })
            .collect();
        Some(self.render(
            h,
            "execve",
            &c,
            &p,
            |e| {
                e.obj("args", |a| {
                    a.str("filename", filename);
                });
            },
            |q| {
                if let Some(cwd) = &cwd {
                    q.str("cwd", cwd);
                }
                q.bool("is_exe_upper_layer", upper)
                    .bool("is_exe_from_memfd", exepath.starts_with("/memfd:"))
                    .opt("stdin_type", stdin.as_str())
                    .opt("stdout_type", stdout.as_str());
                if !kept.is_empty() {
                    q.obj("env", |o| {
                        for (k, v) in &kept {
                            o.str(k, v);
                        }
                    });
                }
            },
            &[],
        ))
    }

    /// A ptrace request that injects or attaches.
    pub(super) fn ptrace_event(&mut self, raw: &Raw) -> Option<Vec<u8>> {
        let Raw::Ptrace {
            h,
            request,
            target_pid,
        } = raw
        else {
            return None;
        };
        let c = self.container(h.cgroup_id, h.pid);
        let p = self.acting(h);
        Some(self.render(
            h,
            "ptrace",
            &c,
            &p,
            |e| {
                e.obj("args", |a| {
                    a.str("request", &ptrace_request(*request))
                        .str("pid", &target_pid.to_string());
                });
            },
            |_| {},
            &[],
        ))
    }

    /// A packet socket created.
    pub(super) fn socket_event(&mut self, raw: &Raw) -> Option<Vec<u8>> {
        let Raw::PacketSocket {
            h,
            family,
            sock_type,
        } = raw
        else {
            return None;
        };
        let c = self.container(h.cgroup_id, h.pid);
        let p = self.acting(h);
        let fd = format!("{{\"num\":{},\"type\":\"packet\"}}", h.ret.max(-1));
        Some(self.render(
            h,
            "socket",
            &c,
            &p,
            |e| {
                e.obj("args", |a| {
                    a.str("domain", if *family == 17 { "AF_PACKET" } else { "?" })
                        .str("type", &socket_type(*sock_type));
                });
            },
            |_| {},
            &[("fd", fd.as_str())],
        ))
    }

    /// A file call: its path resolved (directory fd, working directory), then rendered.
    pub(super) fn file_event(&mut self, raw: &Raw) -> Option<Vec<u8>> {
        let Raw::File {
            h,
            op,
            dfd,
            flags,
            mode,
            path,
            path2,
            cwd,
        } = raw
        else {
            return None;
        };
        let c = self.container(h.cgroup_id, h.pid);
        let from_fd = *op == FileOp::Ftruncate;
        // A relative path against the directory the kernel read at the call, else /proc.
        let resolve = |this: &Self, p: &str| match cwd {
            Some(d) if *dfd == -100 && !p.starts_with('/') => normalize(&format!("{d}/{p}")),
            _ => this.resolve(h.pid, *dfd, p),
        };
        let full = match self.open_fds.get(&h.pid).and_then(|m| m.get(dfd)) {
            Some(p) if from_fd => p.clone(),
            _ => resolve(self, path),
        };
        if *op == FileOp::Open && h.ret >= 0 {
            if self.open_fds.len() > MAX_PROCS {
                self.open_fds.clear();
            }
            let fds = self.open_fds.entry(h.pid).or_default();
            if fds.len() >= MAX_FDS_PER_PROC {
                fds.clear();
            }
            fds.insert(h.ret, full.clone());
        }
        let fd_path = if matches!(op, FileOp::Rename | FileOp::Symlink) {
            resolve(self, path2)
        } else {
            full.clone()
        };
        if h.ret >= 0 {
            match op {
                FileOp::Open if opens_for_write(*flags) || flags & O_CREAT != 0 => {
                    self.mark_written(&c.info, &full)
                }
                FileOp::Rename => self.mark_written(&c.info, &fd_path),
                _ => {}
            }
        }
        let ty = match op {
            FileOp::Open => "openat",
            FileOp::Unlink => "unlinkat",
            FileOp::Rename => "renameat2",
            FileOp::Ftruncate => "ftruncate",
            FileOp::Truncate => "truncate",
            FileOp::Symlink => "symlinkat",
        };
        let (dir, file) = split_path(&fd_path);
        let num = if *op == FileOp::Open && h.ret >= 0 {
            h.ret
        } else {
            -1
        };
        let mut fd = String::with_capacity(64 + 2 * fd_path.len());
        let mut o = Obj::new(&mut fd);
        o.num("num", num)
            .str("name", &fd_path)
            .str("type", "file")
            .str("typechar", "f")
            .str("directory", &dir)
            .str("filename", &file);
        o.end();
        let mut fs = String::with_capacity(32 + 2 * fd_path.len());
        let mut o = Obj::new(&mut fs);
        o.obj("path", |f| {
            if *op == FileOp::Symlink {
                // The target is kept as written: it is resolved from the link's place.
                f.str("source", path).str("target", &fd_path);
            } else if *op == FileOp::Rename {
                f.str("source", &full).str("target", &fd_path);
            } else {
                f.str("name", &full);
            }
        });
        o.end();
        let p = self.acting(h);
        Some(self.render(
            h,
            ty,
            &c,
            &p,
            |e| {
                e.obj("args", |a| match op {
                    FileOp::Open => {
                        a.str("name", path)
                            .str("flags", &open_flags(*flags))
                            .str("mode", &format!("{mode:o}"));
                    }
                    FileOp::Unlink => {
                        a.str("name", path).str(
                            "flags",
                            if flags & 0x200 != 0 {
                                "AT_REMOVEDIR"
                            } else {
                                "0"
                            },
                        );
                    }
                    FileOp::Rename => {
                        a.str("oldpath", path).str("newpath", path2);
                    }
                    FileOp::Ftruncate => {
                        a.str("fd", &dfd.to_string()).str("length", "0");
                    }
                    FileOp::Truncate => {
                        a.str("name", path);
                    }
                    FileOp::Symlink => {
                        a.str("target", path).str("linkpath", path2);
                    }
                });
                if *op == FileOp::Open {
                    e.bool("is_open_write", opens_for_write(*flags))
                        .bool("is_open_read", flags & 3 != 1);
                }
            },
            |_| {},
            &[("fd", &fd), ("fs", &fs)],
        ))
    }

    /// A connect, with its destination.
    pub(super) fn connect_event(&mut self, raw: &Raw) -> Option<Vec<u8>> {
        let Raw::Connect { h, fd, addr, port } = raw else {
            return None;
        };
        let c = self.container(h.cgroup_id, h.pid);
        let kind = if addr.is_ipv4() {
            FdKind::Ipv4
        } else {
            FdKind::Ipv6
        };
        let sip = addr.to_string();
        let shown = if addr.is_ipv4() {
            format!("{sip}:{port}")
        } else {
            format!("[{sip}]:{port}")
        };
        let mut fdj = String::with_capacity(128);
        let mut o = Obj::new(&mut fdj);
        o.num("num", fd)
            .str("name", &format!("->{shown}"))
            .opt("type", kind.as_str())
            .str("typechar", fd_type_char(kind))
            .str("sip", &sip)
            .num("sport", port);
        o.end();
        let p = self.acting(h);
        Some(self.render(
            h,
            "connect",
            &c,
            &p,
            |e| {
                e.obj("args", |a| {
                    a.str("fd", &fd.to_string()).str("addr", &shown);
                });
            },
            |_| {},
            &[("fd", &fdj)],
        ))
    }
}
