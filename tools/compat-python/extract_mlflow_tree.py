import subprocess, os, sys
repo="."; commit=sys.argv[1]; out=os.environ.get("MLFLOW_PY", "/tmp/mlflow-py")
ls = subprocess.run(['git','ls-tree','-r','-z',commit,'mlflow'],capture_output=True,check=True).stdout.split(b'\0')
entries=[]
for e in ls:
    if not e: continue
    meta,path=e.split(b'\t',1)
    mode,typ,sha=meta.split()
    if typ!=b'blob': continue
    entries.append((mode,sha,path.decode()))
p=subprocess.Popen(['git','cat-file','--batch'],stdin=subprocess.PIPE,stdout=subprocess.PIPE)
missing=[]
for mode,sha,path in entries:
    p.stdin.write(sha+b'\n'); p.stdin.flush()
    hdr=p.stdout.readline()
    if hdr.endswith(b'missing\n'):
        missing.append(path); continue
    size=int(hdr.split()[2]); data=p.stdout.read(size); p.stdout.read(1)
    fp=os.path.join(out,path); os.makedirs(os.path.dirname(fp),exist_ok=True)
    if mode==b'120000':
        try: os.symlink(data.decode(),fp)
        except FileExistsError: pass
    else:
        open(fp,'wb').write(data)
print(len(entries),'entries', len(missing),'missing')
for m in missing: print('MISSING',m)
